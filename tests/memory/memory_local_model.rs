//! The candle MiniLM embedder: matches sentence-transformers, pads correctly, explains missing files.

use chitin::memory::embed::{EmbedError, Embedder, LocalModelConfig, MODEL_FILES, MiniLmEmbedder};
use chitin::memory::rank::cosine;
use serde::Deserialize;

use crate::support::memory_model::{local_embedder, model_dir};
use crate::support::memory_retrieval_set::data_file;

#[derive(Deserialize)]
struct Reference {
    dims: usize,
    tolerance: f32,
    sentences: Vec<ReferenceSentence>,
    cosine: std::collections::HashMap<String, f64>,
}

#[derive(Deserialize)]
struct ReferenceSentence {
    text: String,
    first_8: Vec<f32>,
    l2_norm: f32,
    sum: f32,
}

#[tokio::test]
async fn matches_sentence_transformers_reference_values() {
    let path = data_file("minilm-reference.json");
    let reference: Reference =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("reference file")).expect("reference json");
    let embedder = local_embedder();
    let texts: Vec<String> = reference.sentences.iter().map(|s| s.text.clone()).collect();

    let vectors = embedder.embed(&texts).await.expect("embed");

    assert_eq!(embedder.dims(), reference.dims);
    for (vector, expected) in vectors.iter().zip(&reference.sentences) {
        assert_eq!(vector.len(), reference.dims);
        for (position, (got, want)) in vector.iter().zip(&expected.first_8).enumerate() {
            assert!(
                (got - want).abs() <= reference.tolerance,
                "{:?} dim {position}: candle {got} vs sentence-transformers {want}",
                expected.text
            );
        }
        let norm = vector.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!((norm - expected.l2_norm).abs() <= reference.tolerance, "norm {norm}");
        let sum: f32 = vector.iter().sum();
        // 384 values each within tolerance: the sum may drift by a few tolerances.
        assert!((sum - expected.sum).abs() <= 10.0 * reference.tolerance, "sum {sum} vs {}", expected.sum);
    }
    for (pair, want) in &reference.cosine {
        let (left, right) = pair.split_once('-').expect("pair key like 0-1");
        let (left, right): (usize, usize) = (left.parse().expect("index"), right.parse().expect("index"));
        let got = cosine(&vectors[left], &vectors[right]);
        assert!((got - want).abs() <= f64::from(reference.tolerance), "cosine {pair}: {got} vs {want}");
    }
}

#[tokio::test]
async fn padding_in_a_batch_does_not_change_a_vector() {
    let embedder = local_embedder();
    let short = "Water the tomatoes.".to_string();
    let long = "The quarterly report covers revenue, churn, hiring and the infrastructure \
                migration to the new data centre in Frankfurt, with appendices."
        .to_string();
    let alone = embedder.embed(std::slice::from_ref(&short)).await.expect("alone");
    let batched = embedder.embed(&[long, short]).await.expect("batched");
    for (a, b) in alone[0].iter().zip(&batched[1]) {
        assert!((a - b).abs() < 1e-5, "padding leaked into the mean: {a} vs {b}");
    }
}

#[tokio::test]
async fn texts_past_the_window_are_truncated_not_rejected() {
    let embedder = local_embedder();
    let huge = "memory ".repeat(5_000);
    let vectors = embedder.embed(&[huge, String::new()]).await.expect("embed");
    assert_eq!(vectors.len(), 2);
    assert!(vectors.iter().flatten().all(|value| value.is_finite()));
}

#[test]
fn missing_model_file_names_the_file_and_the_fetch_command() {
    let dir = tempfile::tempdir().expect("temp dir");
    for file in MODEL_FILES.iter().filter(|file| **file != "model.safetensors") {
        std::fs::copy(model_dir().join(file), dir.path().join(file)).expect("copy model file");
    }
    let error = match MiniLmEmbedder::load(dir.path(), &LocalModelConfig::default(), 8) {
        Ok(_) => panic!("loading without weights must fail"),
        Err(error) => error,
    };
    assert!(matches!(error, EmbedError::ModelFileMissing { .. }));
    let message = error.to_string();
    assert!(message.contains(&dir.path().join("model.safetensors").display().to_string()), "{message}");
    assert!(message.contains("chitin memory fetch-model"), "{message}");
    assert!(message.contains(&format!("scripts/fetch-model.sh {}", dir.path().display())), "{message}");
}

#[test]
fn corrupt_weights_are_reported_with_the_path() {
    let dir = tempfile::tempdir().expect("temp dir");
    for file in ["tokenizer.json", "config.json"] {
        std::fs::copy(model_dir().join(file), dir.path().join(file)).expect("copy model file");
    }
    std::fs::write(dir.path().join("model.safetensors"), b"not safetensors").expect("write");
    let error = match MiniLmEmbedder::load(dir.path(), &LocalModelConfig::default(), 8) {
        Ok(_) => panic!("loading garbage weights must fail"),
        Err(error) => error,
    };
    assert!(matches!(error, EmbedError::ModelLoad { .. }), "{error}");
    assert!(error.to_string().contains("model.safetensors"));
}
