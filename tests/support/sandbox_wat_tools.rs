//! Hostile components that Rust cannot express, written as WAT and wrapped into components
//! against `wit/tool.wit` at test time.

use std::path::{Path, PathBuf};

/// A `chitin:tool` component named `table_bomb` whose `execute` grows a funcref table until the
/// host refuses, then traps. Stable Rust has no `table.grow`, so this one is hand-written.
const TABLE_BOMB_WAT: &str = r#"
(module
  (memory (export "memory") 1)
  (table $bomb 1 funcref)
  (global $heap (mut i32) (i32.const 8192))
  ;; tool-info { name, description, parameters-schema } as three (pointer, length) pairs.
  (data (i32.const 1024) "\00\08\00\00\0a\00\00\00\00\09\00\00\1b\00\00\00\00\0a\00\00\11\00\00\00")
  (data (i32.const 2048) "table_bomb")
  (data (i32.const 2304) "grows a table until refused")
  (data (i32.const 2560) "{\"type\":\"object\"}")
  (func (export "describe") (result i32)
    i32.const 1024)
  (func (export "execute") (param i32 i32) (result i32)
    (loop $grow
      (br_if $grow
        (i32.ne (table.grow $bomb (ref.null func) (i32.const 1000)) (i32.const -1))))
    unreachable)
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $start i32)
    (local.set $start
      (i32.and (i32.add (global.get $heap) (i32.const 7)) (i32.const -8)))
    (global.set $heap (i32.add (local.get $start) (local.get 3)))
    (local.get $start))
)
"#;

pub fn table_bomb_component(dir: &Path) -> PathBuf {
    let mut module = wat::parse_str(TABLE_BOMB_WAT).expect("table bomb wat");
    let mut resolve = wit_parser::Resolve::default();
    let (package, _) = resolve.push_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("wit")).expect("parse wit/");
    let world = resolve.select_world(&[package], Some("tool")).expect("world tool");
    wit_component::embed_component_metadata(&mut module, &resolve, world, wit_component::StringEncoding::UTF8)
        .expect("embed world metadata");
    let component = wit_component::ComponentEncoder::default()
        .module(&module)
        .expect("core module")
        .validate(true)
        .encode()
        .expect("encode component");
    let path = dir.join("table_bomb.wasm");
    std::fs::write(&path, component).expect("write table_bomb.wasm");
    path
}
