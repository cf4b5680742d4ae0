//! Rust bindings of the `chitin:tool` WIT world (`wit/tool.wit`), host side.

wasmtime::component::bindgen!({
    world: "tool",
    path: "wit",
    imports: { default: async },
    exports: { default: async },
});

pub(crate) use self::chitin::tool::host::{HostError, HttpRequest, HttpResponse, LogLevel};
