"""The ``model2vec`` embedding provider: static embedding models, read with numpy and tokenizers.

A static embedding model is a tokenizer and one vector per token of its vocabulary; a text's
vector is the mean of its tokens' vectors. No neural network runs, so embedding is fast on any
CPU and needs neither torch nor the ``model2vec`` package: numpy does the arithmetic, the
``tokenizers`` package reads ``tokenizer.json``, and the weights file (safetensors: a JSON
header, then the raw arrays) is memory-mapped, so a 500 MB model opens at once and only the
rows of the tokens actually seen are read from disk.

A model is a folder in one of the layouts model2vec and sentence-transformers save:

=======================  ==================================  ================================
layout                   vectors                             tokenizer and config
=======================  ==================================  ================================
model2vec                ``model.safetensors``: tensor       ``tokenizer.json``,
                         ``embeddings`` (optional            ``config.json``
                         ``mapping`` and ``weights``)
sentence-transformers    ``model.safetensors``: tensor       ``tokenizer.json``,
                         ``embedding.weight``                ``config_sentence_transformers.json``
nested                   ``0_StaticEmbedding/model.          ``0_StaticEmbedding/tokenizer.json``,
                         safetensors``                       ``config_sentence_transformers.json``
=======================  ==================================  ================================

``mapping`` (token id to vector row) and ``weights`` (one factor per token) are written by
vocabulary-quantised models. ``config.json``'s ``max_length`` (default 512 tokens) truncates
long texts, as model2vec does. Vectors are always L2-normalised: memory search ranks by cosine.

Where a model comes from. This module never downloads: the machines kt runs on may have no
network, and a search must not stall on a 500 MB download. ``model`` is a preset (``@base``
...), a Hugging Face repo id, or a folder. A repo id is looked up in the local Hugging Face
cache (``HF_HUB_CACHE``, else ``HF_HOME/hub``, else ``~/.cache/huggingface/hub``), where
``hf download REPO`` puts it. A model that is not there raises
:class:`~kt_sessions.errors.EmbeddingModelNotFoundError`, which says how to get it.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import struct
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from kt_sessions.errors import EmbeddingModelNotFoundError, MemoryIndexError

__all__ = [
    "DEFAULT_MODEL",
    "PRESETS",
    "StaticEmbedder",
    "StaticModel",
    "hf_cache_dir",
    "read_safetensors",
    "resolve_model",
]

PRESETS: dict[str, str] = {
    "@tiny": "minishlab/potion-base-2M",  # 64 dimensions
    "@base": "minishlab/potion-base-8M",  # 256
    "@retrieval": "minishlab/potion-retrieval-32M",  # 512, tuned for search
    "@best": "sentence-transformers/static-retrieval-mrl-en-v1",  # 1024, Matryoshka
    "@multilingual": "minishlab/potion-multilingual-128M",  # 256, 101 languages
    "@multilingual-best": "sentence-transformers/static-similarity-mrl-multilingual-v1",  # 1024
    "@science": "minishlab/potion-science-32M",  # 256
}
"""Short names for published static models (what the reference pack's configs use)."""

DEFAULT_MODEL = "@base"
DEFAULT_MAX_LENGTH = 512

# (vectors file, tensor name, tokenizer file, config file): model2vec's own layout first.
_LAYOUTS = (
    ("model.safetensors", "embeddings", "tokenizer.json", "config.json"),
    (
        "model.safetensors",
        "embedding.weight",
        "tokenizer.json",
        "config_sentence_transformers.json",
    ),
    (
        "0_StaticEmbedding/model.safetensors",
        "embedding.weight",
        "0_StaticEmbedding/tokenizer.json",
        "config_sentence_transformers.json",
    ),
)
_SAFETENSORS_DTYPES = {
    "F64": "<f8",
    "F32": "<f4",
    "F16": "<f2",
    "I64": "<i8",
    "I32": "<i4",
    "I16": "<i2",
    "I8": "i1",
    "U8": "u1",
}
_MAX_HEADER = 100 * 1024 * 1024


def _needs() -> Any:
    try:
        import numpy
        import tokenizers
    except ImportError as exc:
        raise MemoryIndexError(
            f"the model2vec provider needs numpy and tokenizers ({exc.name} is missing): "
            "pip install 'kt-terrarium[embeddings]'; or use the offline lexical embedder, "
            'memory.embedding.provider = "hashed" (kt embedding --provider hashed)'
        ) from None
    return numpy, tokenizers


# -- Files --------------------------------------------------------------------------------------


def read_safetensors(path: Path) -> dict[str, Any]:
    """The tensors of a safetensors file as read-only numpy arrays mapped from the file.

    Raises:
        MemoryIndexError: the file is not a safetensors file, or holds a type numpy lacks
            (bfloat16).
    """
    numpy, _ = _needs()
    size = path.stat().st_size
    with path.open("rb") as file:
        prefix = file.read(8)
        (length,) = struct.unpack("<Q", prefix) if len(prefix) == 8 else (-1,)
        if not 0 < length <= min(_MAX_HEADER, size - 8):
            raise MemoryIndexError(f"{path} is not a safetensors file (bad header length)")
        try:
            header = json.loads(file.read(length))
        except ValueError:
            raise MemoryIndexError(f"{path} is not a safetensors file (bad header)") from None
    if not isinstance(header, dict):
        raise MemoryIndexError(f"{path} is not a safetensors file (bad header)")
    start_of_data = 8 + length
    tensors: dict[str, Any] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        kind = info.get("dtype") if isinstance(info, dict) else None
        dtype = _SAFETENSORS_DTYPES.get(kind)
        if dtype is None:
            raise MemoryIndexError(
                f"{path}: tensor {name!r} is {kind}, which numpy cannot read; use a float32 or "
                "float16 copy of the model"
            )
        try:
            shape = tuple(int(n) for n in info["shape"])
            begin, end = (int(n) for n in info["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise MemoryIndexError(f"{path}: tensor {name!r} has a malformed entry") from None
        if (
            not 0 <= begin <= end
            or end - begin != math.prod(shape) * numpy.dtype(dtype).itemsize
            or (start_of_data + end > size)
        ):
            raise MemoryIndexError(f"{path}: tensor {name!r} does not fit its declared shape")
        if math.prod(shape) == 0:
            tensors[name] = numpy.zeros(shape, dtype=dtype)
        else:
            tensors[name] = numpy.memmap(
                path, dtype=dtype, mode="r", offset=start_of_data + begin, shape=shape
            )
    return tensors


def hf_cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where the Hugging Face tools keep downloaded models."""
    env = os.environ if env is None else env
    if env.get("HF_HUB_CACHE"):
        return Path(env["HF_HUB_CACHE"]).expanduser()
    if env.get("HF_HOME"):
        return Path(env["HF_HOME"]).expanduser() / "hub"
    cache = Path(env["XDG_CACHE_HOME"]) if env.get("XDG_CACHE_HOME") else Path.home() / ".cache"
    return cache / "huggingface" / "hub"


def _layout(folder: Path) -> tuple[Path, str, Path, Path] | None:
    for vectors, tensor, tokenizer, config in _LAYOUTS:
        paths = (folder / vectors, folder / tokenizer, folder / config)
        if all(p.is_file() for p in paths):
            return paths[0], tensor, paths[1], paths[2]
    return None


def _cached_snapshot(repo: str, cache: Path) -> Path | None:
    """The cached copy of *repo*: the snapshot ``refs/main`` names, else the newest complete one."""
    repo_dir = cache / ("models--" + repo.replace("/", "--"))
    snapshots = repo_dir / "snapshots"
    if not snapshots.is_dir():
        return None
    main = repo_dir / "refs" / "main"
    if main.is_file():
        named = snapshots / main.read_text(encoding="utf-8").strip()
        if _layout(named) is not None:
            return named
    complete = [p for p in snapshots.iterdir() if p.is_dir() and _layout(p) is not None]
    return max(complete, key=lambda p: p.stat().st_mtime) if complete else None


def resolve_model(model: str | None, env: Mapping[str, str] | None = None) -> tuple[str, Path]:
    """Find a model on this machine: ``(its name, its folder)``.

    The name is what the index records: the repo id for a preset or a repo id, the absolute
    folder for a folder.

    Args:
        model: A preset (``@base``), a Hugging Face repo id, or a folder; ``None``: ``@base``.
        env: The environment (for the cache location).

    Raises:
        EmbeddingModelNotFoundError: the model is not on this machine (the message says how
            to get it), or an unknown preset.
    """
    asked = model or DEFAULT_MODEL
    if asked.startswith("@"):
        if asked not in PRESETS:
            raise EmbeddingModelNotFoundError(
                f"unknown model2vec preset '{asked}' in memory.embedding.model; presets: "
                f"{', '.join(PRESETS)}; or name a Hugging Face repo id or a model folder"
            )
        repo = PRESETS[asked]
    else:
        folder = Path(asked).expanduser()
        if folder.is_dir():
            if _layout(folder) is None:
                raise EmbeddingModelNotFoundError(
                    f"memory.embedding.model: {folder} holds no static model: a model folder "
                    "has model.safetensors, tokenizer.json and config.json (model2vec's "
                    "layout) or sentence-transformers' static-embedding layout"
                )
            return str(folder.resolve()), folder
        repo = asked
    cache = hf_cache_dir(env)
    if repo.count("/") == 1:
        found = _cached_snapshot(repo, cache)
        if found is not None:
            return repo, found
    shown = f"'{asked}' ({repo})" if asked != repo else f"'{repo}'"
    raise EmbeddingModelNotFoundError(
        f"the model2vec model {shown} of memory.embedding.model is not on this machine "
        f"(looked for a folder of that name and in the Hugging Face cache {cache}); kt never "
        f"downloads during a run. Fetch it once with `hf download {repo}` (pip install "
        "huggingface_hub), or set memory.embedding.model (kt embedding --model) to a folder "
        "holding model.safetensors, tokenizer.json and config.json; or use the offline "
        'lexical embedder: memory.embedding.provider = "hashed"'
    )


# -- The model ------------------------------------------------------------------------------------


class StaticModel:
    """A static embedding model read from a folder (see the module docs for the layouts).

    Args:
        folder: The model's folder.

    Raises:
        EmbeddingModelNotFoundError: the folder holds no model in a known layout.
        MemoryIndexError: numpy or tokenizers is missing, or a file is malformed.
    """

    def __init__(self, folder: Path) -> None:
        numpy, tokenizers = _needs()
        found = _layout(folder)
        if found is None:
            raise EmbeddingModelNotFoundError(
                f"{folder} holds no static model (model.safetensors, tokenizer.json, "
                "config.json); point memory.embedding.model at a model folder"
            )
        vectors_file, tensor, tokenizer_file, config_file = found
        tensors = read_safetensors(vectors_file)
        if tensor not in tensors:
            raise MemoryIndexError(f"{vectors_file} has no tensor {tensor!r}")
        self.vectors = tensors[tensor]
        self.mapping = tensors.get("mapping")  # token id -> vector row (quantised vocabularies)
        self.weights = tensors.get("weights")  # one factor per token id
        if self.vectors.ndim != 2:
            raise MemoryIndexError(f"{vectors_file}: {tensor!r} is not a matrix")
        try:
            self.tokenizer = tokenizers.Tokenizer.from_file(str(tokenizer_file))
            config = json.loads(config_file.read_text(encoding="utf-8") or "{}")
        except Exception as exc:  # the tokenizers package raises its own untyped errors
            raise MemoryIndexError(
                f"cannot read the model in {folder}: {type(exc).__name__}: {exc}"
            ) from None
        vocabulary = self.tokenizer.get_vocab()
        if self.mapping is None and len(vocabulary) != len(self.vectors):
            raise MemoryIndexError(
                f"{folder}: the tokenizer has {len(vocabulary)} tokens but the model "
                f"{len(self.vectors)} vectors"
            )
        self.tokenizer.no_padding()
        self.max_length: int | None = config.get("max_length", DEFAULT_MAX_LENGTH)
        if self.max_length is not None:
            self.tokenizer.enable_truncation(int(self.max_length))
        # Texts are cut to max_length tokens' worth of characters before tokenizing, so a
        # 100 kB tool output costs no more than a page of text.
        self.median_token_length = int(numpy.median([len(token) for token in vocabulary]))
        self.unknown_id = self._unknown_id()
        self.dimensions = int(self.vectors.shape[1])

    def _unknown_id(self) -> int | None:
        """The id of the unknown token, which carries no meaning and is left out of the mean."""
        model = self.tokenizer.model
        if hasattr(model, "unk_token"):  # WordPiece, BPE, WordLevel
            token = model.unk_token
            return None if token is None else self.tokenizer.token_to_id(token)
        return json.loads(self.tokenizer.to_str())["model"].get("unk_id")  # Unigram

    def encode(self, texts: Sequence[str], dimensions: int | None = None) -> Any:
        """A float32 matrix: one L2-normalised row per text (zeros for a text with no token).

        Args:
            texts: The texts.
            dimensions: Keep the first *dimensions* columns (Matryoshka models are trained
                so that a prefix is a good smaller embedding); ``None``: all.
        """
        numpy, _ = _needs()
        if self.max_length is not None:
            cut = self.max_length * self.median_token_length
            texts = [text[:cut] for text in texts]
        encodings = self.tokenizer.encode_batch(list(texts), add_special_tokens=False)
        width = dimensions or self.dimensions
        out = numpy.zeros((len(encodings), width), dtype=numpy.float32)
        ids = [[i for i in encoding.ids if i != self.unknown_id] for encoding in encodings]
        lengths = numpy.array([len(row) for row in ids], dtype=numpy.int64)
        if not lengths.any():
            return out
        # All the texts' tokens in one gather, then one sum per text (np.add.reduceat): a
        # Python loop per text costs more than the arithmetic.
        flat = numpy.fromiter(itertools.chain.from_iterable(ids), numpy.int64, int(lengths.sum()))
        rows = self.mapping[flat] if self.mapping is not None else flat
        vectors = numpy.asarray(self.vectors[rows, :width], dtype=numpy.float32)
        if self.weights is not None:
            vectors *= numpy.asarray(self.weights[flat], dtype=numpy.float32)[:, None]
        used = lengths > 0
        starts = (numpy.cumsum(lengths) - lengths)[used]
        out[used] = numpy.add.reduceat(vectors, starts, axis=0) / lengths[used][:, None]
        norms = numpy.linalg.norm(out, axis=1, keepdims=True)
        return out / numpy.where(norms == 0, 1.0, norms)


class StaticEmbedder:
    """The ``model2vec`` provider's embedder.

    Args:
        model: A preset, a Hugging Face repo id or a folder (see :func:`resolve_model`).
        dimensions: Keep this many leading dimensions (for Matryoshka models such as
            ``@best``); ``None``: the model's own size.
        env: The environment (for the Hugging Face cache location).

    Raises:
        EmbeddingModelNotFoundError: the model is not on this machine.
        MemoryIndexError: numpy or tokenizers is missing, or *dimensions* exceeds the model's.
    """

    provider = "model2vec"

    def __init__(
        self,
        model: str | None = None,
        dimensions: int | None = None,
        *,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.model, folder = resolve_model(model, env)
        self._model = StaticModel(folder)
        if dimensions is not None and not 0 < dimensions <= self._model.dimensions:
            raise MemoryIndexError(
                f"memory.embedding.dimensions is {dimensions}, but {self.model} has "
                f"{self._model.dimensions}; leave it out, or choose a smaller value"
            )
        self.dimensions = dimensions or self._model.dimensions

    def __repr__(self) -> str:
        return f"StaticEmbedder(model={self.model!r}, dimensions={self.dimensions})"

    def embed(self, texts: Sequence[str]) -> list[Sequence[float]]:
        """One normalised vector per text."""
        return list(self._model.encode(texts, self.dimensions))
