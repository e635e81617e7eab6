"""Build tiny static embedding models on disk, in the layouts model2vec and sentence-transformers save.

The vocabulary is a dozen words; each word's vector is chosen so that tests know the answer:
``deploy`` and ``release`` point the same way (synonyms, no shared letters), ``auth`` and
``login`` too, and ``lunch`` points elsewhere. The safetensors file is written here from the
format's definition (8-byte little-endian header length, JSON header, raw little-endian
arrays), independently of the reader under test.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np

VOCAB = [
    "[PAD]",
    "[UNK]",
    "deploy",
    "release",
    "##ment",
    "service",
    "auth",
    "login",
    "bug",
    "lunch",
    "menu",
    "the",
]
DIM = 8


def _axis(i: int, scale: float = 1.0) -> np.ndarray:
    v = np.zeros(DIM, dtype=np.float32)
    v[i] = scale
    return v


def vectors() -> np.ndarray:
    """One row per VOCAB entry."""
    rows = {
        "[PAD]": np.zeros(DIM, dtype=np.float32),
        "[UNK]": _axis(7, 5.0),  # never counted: the unknown token is dropped
        "deploy": _axis(0) + 0.1 * _axis(5),
        "release": _axis(0) + 0.12 * _axis(5),
        "##ment": _axis(5, 0.3),
        "service": _axis(1),
        "auth": _axis(2) + 0.1 * _axis(6),
        "login": _axis(2) + 0.08 * _axis(6),
        "bug": _axis(3),
        "lunch": _axis(4),
        "menu": _axis(4) + 0.2 * _axis(6),
        "the": _axis(6, 0.05),
    }
    return np.stack([rows[token] for token in VOCAB]).astype(np.float32)


def tokenizer():
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

    tok = Tokenizer(
        models.WordPiece(
            {t: i for i, t in enumerate(VOCAB)}, unk_token="[UNK]", max_input_chars_per_word=100
        )
    )
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    return tok


_CODES = {np.dtype("float32"): "F32", np.dtype("float16"): "F16", np.dtype("int64"): "I64"}


def write_safetensors(path: Path, tensors: dict[str, np.ndarray]) -> None:
    header, blobs, offset = {}, [], 0
    for name, array in tensors.items():
        data = np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<")).tobytes()
        header[name] = {
            "dtype": _CODES[array.dtype],
            "shape": list(array.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = {"format": "pt"}
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)  # the format pads the header to 8 bytes
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"".join(blobs))


def build(
    folder: Path,
    *,
    layout: str = "model2vec",
    dtype: str = "float32",
    max_length: int | None = 512,
    quantised: bool = False,
) -> Path:
    """Write a tiny model into *folder* (created) and return it.

    Args:
        folder: Where.
        layout: ``model2vec``, ``sentence-transformers`` or ``nested`` (``0_StaticEmbedding``).
        dtype: The vectors' type on disk.
        max_length: ``config.json``'s ``max_length`` (model2vec layout only).
        quantised: Store fewer rows plus a token-to-row ``mapping`` and per-token ``weights``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    matrix = vectors().astype(dtype)
    tok = tokenizer()
    if layout == "model2vec":
        tensors = {"embeddings": matrix}
        if quantised:  # rows 2 and 3 (deploy, release) share one row; weights double "bug"
            mapping = np.array([0, 1, 2, 2, *range(3, len(VOCAB) - 1)], dtype=np.int64)
            keep = [i for i in range(len(VOCAB)) if i != 3]
            weights = np.ones(len(VOCAB), dtype=np.float32)
            weights[VOCAB.index("bug")] = 2.0
            tensors = {"embeddings": matrix[keep], "mapping": mapping, "weights": weights}
        write_safetensors(folder / "model.safetensors", tensors)
        tok.save(str(folder / "tokenizer.json"))
        config = {"model_type": "model2vec", "normalize": True, "hidden_dim": DIM}
        if max_length is not None:
            config["max_length"] = max_length
        (folder / "config.json").write_text(json.dumps(config))
    else:
        inner = folder / "0_StaticEmbedding" if layout == "nested" else folder
        write_safetensors(inner / "model.safetensors", {"embedding.weight": matrix})
        tok.save(str(inner / "tokenizer.json"))
        (folder / "config_sentence_transformers.json").write_text(
            json.dumps({"__version__": {"sentence_transformers": "5.0.0"}})
        )
    return folder


def build_in_hf_cache(cache: Path, repo: str, *, layout: str = "model2vec") -> Path:
    """Put a tiny model where ``hf download REPO`` would: a snapshot named by ``refs/main``."""
    repo_dir = cache / ("models--" + repo.replace("/", "--"))
    revision = "0123456789abcdef0123456789abcdef01234567"
    (repo_dir / "refs").mkdir(parents=True, exist_ok=True)
    (repo_dir / "refs" / "main").write_text(revision)
    return build(repo_dir / "snapshots" / revision, layout=layout)


def expected(words: list[str], matrix: np.ndarray | None = None) -> np.ndarray:
    """The normalised mean of the words' rows (the unknown token left out)."""
    matrix = vectors() if matrix is None else matrix
    rows = [matrix[VOCAB.index(w)] for w in words if w in VOCAB and w != "[UNK]"]
    mean = np.mean(rows, axis=0)
    return mean / np.linalg.norm(mean)
