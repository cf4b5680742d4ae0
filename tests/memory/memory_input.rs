//! Bad input files: binary, invalid UTF-8, oversized; each rejected with a message naming it.

use chitin::memory::{DocumentError, decode_document};

fn write_and_read(name: &str, bytes: &[u8]) -> (std::path::PathBuf, Vec<u8>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).expect("write");
    let read = std::fs::read(&path).expect("read");
    (path, read, dir)
}

#[test]
fn binary_files_are_skipped_with_the_offset_of_the_nul() {
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    let (path, bytes, _dir) = write_and_read("photo.md", png);
    let error = decode_document(&path, &bytes, 1 << 20).expect_err("binary");
    assert_eq!(error, DocumentError::Binary { path: path.clone(), offset: 8 });
    assert_eq!(error.to_string(), format!("{} looks binary (NUL byte at offset 8); skipped", path.display()));
}

#[test]
fn invalid_utf8_is_rejected_not_mangled() {
    let latin1 = b"caf\xe9 au lait";
    let (path, bytes, _dir) = write_and_read("menu.md", latin1);
    let error = decode_document(&path, &bytes, 1 << 20).expect_err("latin-1");
    assert_eq!(error, DocumentError::InvalidUtf8 { path: path.clone(), offset: 3 });
    assert!(error.to_string().contains("menu.md is not valid UTF-8 (bad byte at offset 3)"));
}

#[test]
fn oversized_files_are_skipped() {
    let (path, bytes, _dir) = write_and_read("dump.log", &vec![b'a'; 2048]);
    let error = decode_document(&path, &bytes, 1024).expect_err("too large");
    assert_eq!(error, DocumentError::TooLarge { path, size: 2048, limit: 1024 });
}

#[test]
fn utf8_text_including_cjk_passes() {
    let text = "# 笔记\n\nNotes with ümlauts and emoji 🦀.";
    let (path, bytes, _dir) = write_and_read("notes.md", text.as_bytes());
    assert_eq!(decode_document(&path, &bytes, 1 << 20), Ok(text));
}
