//! Finds and loads the local MiniLM model once per test binary.

use std::path::PathBuf;
use std::sync::OnceLock;

use chitin::memory::embed::{LocalModelConfig, MiniLmEmbedder};

/// `CHITIN_MODEL_DIR`, or `target/models/all-MiniLM-L6-v2` where `scripts/fetch-model.sh` puts it.
pub fn model_dir() -> PathBuf {
    std::env::var_os("CHITIN_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/models/all-MiniLM-L6-v2"))
}

/// The shared embedder. Fails the test (never skips it) when the files are missing, naming the
/// command that fetches them, so CI cannot go green without the model.
pub fn local_embedder() -> &'static MiniLmEmbedder {
    static EMBEDDER: OnceLock<MiniLmEmbedder> = OnceLock::new();
    EMBEDDER.get_or_init(|| {
        let dir = model_dir();
        MiniLmEmbedder::load(&dir, &LocalModelConfig::default(), 32).unwrap_or_else(|error| {
            panic!(
                "the local MiniLM model is required by this test and could not be loaded: {error}\n\
                 run `scripts/fetch-model.sh {}` (CI's test script does this first)",
                dir.display()
            )
        })
    })
}
