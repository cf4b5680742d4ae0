//! all-MiniLM-L6-v2 run in process with candle: BERT, mean pooling, L2 normalisation, on CPU.
//!
//! This is the "no API key" embedder. It reproduces what sentence-transformers computes for the
//! same model (checked against reference values in the tests), so vectors are interchangeable
//! with other tools that use the model.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config as BertConfig, DTYPE};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};
use tracing::Instrument;

use super::config::LocalModelConfig;
use super::{EmbedError, EmbedFuture, Embedder, Embedding, validate_embeddings};

/// The files the embedder loads from its model folder, as `scripts/fetch-model.sh` lays them out.
pub const MODEL_FILES: [&str; 3] = ["model.safetensors", "tokenizer.json", "config.json"];

const MODEL_ID: &str = "local/all-MiniLM-L6-v2";

/// The in-process MiniLM embedder. Cheap to clone: the weights are shared.
#[derive(Clone)]
pub struct MiniLmEmbedder {
    model: Arc<LoadedModel>,
    batch_size: usize,
}

struct LoadedModel {
    bert: BertModel,
    tokenizer: Tokenizer,
    device: Device,
    dims: usize,
}

impl MiniLmEmbedder {
    /// Loads the model from `model_dir`; a missing file is reported by name together with the
    /// command that fetches it.
    pub fn load(model_dir: &Path, config: &LocalModelConfig, batch_size: usize) -> Result<Self, EmbedError> {
        let _span = tracing::info_span!("load_local_model", dir = %model_dir.display()).entered();
        for file in MODEL_FILES {
            let path = model_dir.join(file);
            if !path.is_file() {
                return Err(EmbedError::ModelFileMissing { path });
            }
        }
        let config_path = model_dir.join("config.json");
        let bert_config: BertConfig = serde_json::from_slice(&read(&config_path)?)
            .map_err(|source| EmbedError::ModelConfig { path: config_path.clone(), source })?;

        let device = Device::Cpu;
        let weights_path = model_dir.join("model.safetensors");
        let weights = read(&weights_path)?;
        let model_load_error = |source| EmbedError::ModelLoad { path: weights_path.clone(), source };
        let variables = VarBuilder::from_buffered_safetensors(weights, DTYPE, &device).map_err(model_load_error)?;
        let bert = BertModel::load(variables, &bert_config).map_err(model_load_error)?;

        let tokenizer = load_tokenizer(&model_dir.join("tokenizer.json"), config.max_tokens)?;
        tracing::info!(dims = bert_config.hidden_size, "local embedding model loaded");
        Ok(Self {
            model: Arc::new(LoadedModel { bert, tokenizer, device, dims: bert_config.hidden_size }),
            batch_size: batch_size.max(1),
        })
    }

    /// Embeds on the calling thread. The async [`Embedder::embed`] runs this on tokio's blocking
    /// pool; benches and one-off tools may call it directly.
    pub fn embed_blocking(&self, texts: &[String]) -> Result<Vec<Embedding>, EmbedError> {
        let mut vectors = Vec::with_capacity(texts.len());
        for batch in texts.chunks(self.batch_size) {
            vectors.extend(self.model.embed_batch(batch)?);
        }
        validate_embeddings(MODEL_ID, self.model.dims, texts.len(), &vectors)?;
        Ok(vectors)
    }
}

fn read(path: &Path) -> Result<Vec<u8>, EmbedError> {
    std::fs::read(path).map_err(|source| EmbedError::ModelRead { path: path.to_path_buf(), source })
}

/// Loads `tokenizer.json` with sentence-transformers' settings for this model: truncate at
/// `max_tokens` (the file itself says 128, sentence-transformers uses 256) and pad each batch
/// only to its longest text (the file pads everything to 128, which wastes work on short chunks).
fn load_tokenizer(path: &PathBuf, max_tokens: usize) -> Result<Tokenizer, EmbedError> {
    let load_error = |message: String| EmbedError::TokenizerLoad { path: path.clone(), message };
    let mut tokenizer = Tokenizer::from_file(path).map_err(|error| load_error(error.to_string()))?;
    tokenizer
        .with_truncation(Some(TruncationParams { max_length: max_tokens.max(2), ..TruncationParams::default() }))
        .map_err(|error| load_error(error.to_string()))?;
    tokenizer.with_padding(Some(PaddingParams { strategy: PaddingStrategy::BatchLongest, ..PaddingParams::default() }));
    Ok(tokenizer)
}

impl LoadedModel {
    fn embed_batch(&self, batch: &[String]) -> Result<Vec<Embedding>, EmbedError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let encodings = self.tokenizer.encode_batch(batch.to_vec(), true).map_err(|error| EmbedError::Tokenize {
            model: MODEL_ID.to_string(),
            batch: batch.len(),
            message: error.to_string(),
        })?;
        let sequence_length = encodings.first().map_or(0, |encoding| encoding.len());
        let mut ids = Vec::with_capacity(batch.len() * sequence_length);
        let mut type_ids = Vec::with_capacity(ids.capacity());
        let mut mask = Vec::with_capacity(ids.capacity());
        for encoding in &encodings {
            ids.extend_from_slice(encoding.get_ids());
            type_ids.extend_from_slice(encoding.get_type_ids());
            mask.extend_from_slice(encoding.get_attention_mask());
        }
        self.forward(ids, type_ids, mask, (batch.len(), sequence_length))
            .map_err(|source| EmbedError::Inference { model: MODEL_ID.to_string(), source })
    }

    /// BERT forward pass, then the mean of the token vectors that are not padding, scaled to
    /// unit length (sentence-transformers' `Pooling(mean)` + `Normalize` modules).
    fn forward(
        &self,
        ids: Vec<u32>,
        type_ids: Vec<u32>,
        mask: Vec<u32>,
        shape: (usize, usize),
    ) -> candle_core::Result<Vec<Embedding>> {
        let ids = Tensor::from_vec(ids, shape, &self.device)?;
        let type_ids = Tensor::from_vec(type_ids, shape, &self.device)?;
        let mask = Tensor::from_vec(mask, shape, &self.device)?;
        let hidden = self.bert.forward(&ids, &type_ids, Some(&mask))?;
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
        let counts = mask.sum(1)?.clamp(1e-9, f64::MAX)?;
        let mean = summed.broadcast_div(&counts)?;
        let norms = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
        mean.broadcast_div(&norms)?.to_vec2::<f32>()
    }
}

impl Embedder for MiniLmEmbedder {
    fn model_id(&self) -> &str {
        MODEL_ID
    }

    fn dims(&self) -> usize {
        self.model.dims
    }

    fn embed<'a>(&'a self, texts: &'a [String]) -> EmbedFuture<'a> {
        let embedder = self.clone();
        let owned = texts.to_vec();
        let span = tracing::debug_span!("embed_local", texts = owned.len());
        Box::pin(
            async move {
                tokio::task::spawn_blocking(move || embedder.embed_blocking(&owned))
                    .await
                    .map_err(|_| EmbedError::WorkerGone { model: MODEL_ID.to_string() })?
            }
            .instrument(span),
        )
    }
}
