//! Checks vectors from any provider before they can reach the index.

use super::{EmbedError, Embedding};

/// Rejects a batch unless it has `expected_count` vectors of `dims` finite values each.
///
/// One bad vector rejects the whole batch: the caller retries or reports it, and the index never
/// holds vectors of two lengths or NaNs that would poison every cosine score they touch.
pub fn validate_embeddings(
    model: &str,
    dims: usize,
    expected_count: usize,
    vectors: &[Embedding],
) -> Result<(), EmbedError> {
    if vectors.len() != expected_count {
        return Err(EmbedError::CountMismatch {
            model: model.to_string(),
            expected: expected_count,
            got: vectors.len(),
        });
    }
    for (index, vector) in vectors.iter().enumerate() {
        if vector.len() != dims {
            return Err(EmbedError::WrongDimensions {
                model: model.to_string(),
                index,
                expected: dims,
                got: vector.len(),
            });
        }
        if vector.iter().any(|value| !value.is_finite()) {
            return Err(EmbedError::NotFinite { model: model.to_string(), index });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_well_formed_batch() {
        assert!(validate_embeddings("m", 2, 2, &[vec![0.1, 0.2], vec![0.3, 0.4]]).is_ok());
    }

    #[test]
    fn rejects_short_vector_naming_its_index() {
        let error = validate_embeddings("m", 2, 2, &[vec![0.1, 0.2], vec![0.3]]).unwrap_err();
        assert!(matches!(error, EmbedError::WrongDimensions { index: 1, expected: 2, got: 1, .. }));
    }

    #[test]
    fn rejects_nan_and_infinity() {
        let nan = validate_embeddings("m", 2, 1, &[vec![f32::NAN, 0.0]]).unwrap_err();
        assert!(matches!(nan, EmbedError::NotFinite { index: 0, .. }));
        let inf = validate_embeddings("m", 1, 1, &[vec![f32::INFINITY]]).unwrap_err();
        assert!(matches!(inf, EmbedError::NotFinite { index: 0, .. }));
    }

    #[test]
    fn rejects_missing_vectors() {
        let error = validate_embeddings("m", 1, 3, &[vec![0.0]]).unwrap_err();
        assert!(matches!(error, EmbedError::CountMismatch { expected: 3, got: 1, .. }));
    }
}
