//! A component built against some other world, so the host must refuse to load it as a tool.

wit_bindgen::generate!({
    inline: "package test:other@0.1.0; world other { export run: func() -> string; }",
});

struct Other;

impl Guest for Other {
    fn run() -> String {
        "not a chitin tool".to_string()
    }
}

export!(Other);
