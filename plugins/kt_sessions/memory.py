"""Memory search over a session: full text (SQLite FTS5), vectors, and both merged.

What is searched. Every message appended to a creature's history becomes a *block* as it is
written: the user's input, the assistant's reply (with its tool calls as ``[tool:name] args``),
each tool result (``[result:name] output``), compaction summaries, sub-agent outputs and channel
messages. Texts longer than 4,000 characters are cut into several blocks. The FTS5 index is
updated in the same transaction as the event, so full-text search needs no indexing step and
finds text from runs still being written.

Vectors are built on demand (:meth:`MemoryIndex.index`, ``kt embedding``, the
``search_memory`` tool), incrementally: only blocks added since the last indexing are
embedded. The index records the embedder's provider, model and dimensions, and queries are
embedded with that same embedder; a query made with another one is refused with
:class:`~kt_sessions.errors.EmbeddingMismatchError` rather than silently returning nonsense.

Embedders. The default, ``hashing`` (model ``char-ngram-v1``, 256 dimensions), needs no
download and no third-party package: each text becomes a bag of its words and of the
character trigrams of its words, hashed (BLAKE2) into a fixed-size vector with random signs
and L2-normalised. It matches shared words and word pieces ("deploy" / "deployment"), not
meaning; it is deterministic across processes and machines. Real sentence-embedding models
are used when installed: ``sentence-transformers`` and ``model2vec`` providers, or any provider
another plugin registers through the ``kt_embedding_providers`` hook.

Modes: ``fts`` (BM25), ``semantic`` (cosine similarity), ``hybrid`` (reciprocal-rank fusion
of both, constant 60), ``auto`` (``hybrid`` when the session has a vector index, else
``fts``).
"""

from __future__ import annotations

import array
import hashlib
import math
import re
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

import attrs
import peewee as pw
from peewee import fn

from kt_sessions.db import Block, BlockFTS, SessionMeta, Vector, get_meta, set_meta
from kt_sessions.errors import EmbeddingMismatchError, MemoryIndexError

__all__ = [
    "DEFAULT_PROVIDER",
    "Embedder",
    "HashingEmbedder",
    "MemoryHit",
    "MemoryIndex",
    "embedding_providers",
    "format_hits",
    "make_embedder",
]

DEFAULT_PROVIDER = "hashing"
MODES = ("auto", "fts", "semantic", "hybrid")
_RRF_K = 60
_WORD = re.compile(r"\w+", re.UNICODE)
_HIT_COLUMNS = (  # a MemoryHit's fields, in order, before its score
    Block.id,
    Block.event_id,
    Block.creature,
    Block.turn_index,
    Block.kind,
    Block.tool_name,
    Block.timestamp,
    Block.content,
)


class Embedder(Protocol):
    """What memory search needs from an embedding model.

    Attributes:
        provider: The provider name (``hashing``, ``sentence-transformers`` ...).
        model: The model name.
        dimensions: The length of every vector.
    """

    provider: str
    model: str
    dimensions: int

    def embed(self, texts: Sequence[str]) -> list[Sequence[float]]:
        """One vector per text, in order."""


class HashingEmbedder:
    """The offline default: hashed words and character trigrams (see the module docs).

    Args:
        dimensions: Vector length (default 256).
    """

    provider = DEFAULT_PROVIDER
    model = "char-ngram-v1"

    def __init__(self, dimensions: int = 256) -> None:
        if dimensions < 8:
            raise ValueError("dimensions must be at least 8")
        self.dimensions = dimensions
        self._cache: dict[str, tuple[int, float]] = {}

    def _slot(self, feature: str) -> tuple[int, float]:
        slot = self._cache.get(feature)
        if slot is None:
            digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
            value = int.from_bytes(digest, "little")
            slot = (value % self.dimensions, 1.0 if value >> 63 else -1.0)
            if len(self._cache) < 200_000:
                self._cache[feature] = slot
        return slot

    def embed_one(self, text: str) -> list[float]:
        """The vector of one text."""
        vector = [0.0] * self.dimensions
        for word in _WORD.findall(text.lower()):
            index, sign = self._slot("w:" + word)
            vector[index] += sign
            padded = f"<{word}>"
            for i in range(len(padded) - 2):
                index, sign = self._slot(padded[i : i + 3])
                vector[index] += 0.5 * sign
        norm = math.sqrt(sum(v * v for v in vector))
        return [v / norm for v in vector] if norm else vector

    def embed(self, texts: Sequence[str]) -> list[Sequence[float]]:
        """One vector per text."""
        return [self.embed_one(text) for text in texts]


class _SentenceTransformerEmbedder:
    provider = "sentence-transformers"

    def __init__(self, model: str | None, dimensions: int | None) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise MemoryIndexError(
                "the sentence-transformers provider needs the sentence-transformers package "
                "(pip install sentence-transformers) and its model weights; or use the offline "
                "default: --provider hashing"
            ) from exc
        self.model = model or "all-MiniLM-L6-v2"
        self._model = SentenceTransformer(self.model)
        self.dimensions = dimensions or int(self._model.get_sentence_embedding_dimension())

    def embed(self, texts: Sequence[str]) -> list[Sequence[float]]:
        vectors = self._model.encode(list(texts), normalize_embeddings=True)
        return [list(v[: self.dimensions]) for v in vectors]


class _Model2VecEmbedder:
    provider = "model2vec"

    def __init__(self, model: str | None, dimensions: int | None) -> None:
        try:
            from model2vec import StaticModel
        except ImportError as exc:
            raise MemoryIndexError(
                "the model2vec provider needs the model2vec package (pip install model2vec) and "
                "its model weights; or use the offline default: --provider hashing"
            ) from exc
        self.model = model or "minishlab/potion-base-8M"
        self._model = StaticModel.from_pretrained(self.model)
        self.dimensions = dimensions or int(self._model.dim)

    def embed(self, texts: Sequence[str]) -> list[Sequence[float]]:
        vectors = self._model.encode(list(texts))
        return [list(v[: self.dimensions]) for v in vectors]


EmbedderFactory = Callable[[str | None, int | None], Embedder]


def _hashing(model: str | None, dimensions: int | None) -> Embedder:
    if model not in (None, "", HashingEmbedder.model):
        raise MemoryIndexError(
            f"the hashing provider has one model, '{HashingEmbedder.model}', not '{model}'"
        )
    return HashingEmbedder(dimensions or 256)


BUILTIN_PROVIDERS: dict[str, tuple[EmbedderFactory, str]] = {
    "hashing": (_hashing, "offline hashed words and character trigrams (no download)"),
    "sentence-transformers": (
        _SentenceTransformerEmbedder,
        "sentence-transformers models (needs the package and its weights)",
    ),
    "model2vec": (_Model2VecEmbedder, "model2vec static embeddings (needs the package)"),
}


def embedding_providers(kernel: Any = None) -> dict[str, tuple[EmbedderFactory, str]]:
    """Embedding providers by name: the built-in ones, then those plugins register.

    Plugins register through the ``kt_embedding_providers(register)`` hook, calling
    ``register(name, factory, description)`` where ``factory(model, dimensions)`` returns an
    object with ``provider``, ``model``, ``dimensions`` and ``embed(texts)``.

    Args:
        kernel: The plugin set to ask (``None``: built-in providers only).
    """
    providers = dict(BUILTIN_PROVIDERS)
    caller = getattr(getattr(kernel, "pm", None), "hook", None)
    hook = getattr(caller, "kt_embedding_providers", None)
    if hook is not None:

        def register(name: str, factory: EmbedderFactory, description: str = "") -> None:
            providers[name] = (factory, description)

        hook(register=register)
    return providers


def make_embedder(
    provider: str | None = None,
    model: str | None = None,
    dimensions: int | None = None,
    *,
    kernel: Any = None,
) -> Embedder:
    """Build an embedder by provider name (default: the offline ``hashing`` one).

    Raises:
        MemoryIndexError: an unknown provider, or one whose package is missing.
    """
    providers = embedding_providers(kernel)
    name = provider or DEFAULT_PROVIDER
    entry = providers.get(name)
    if entry is None:
        raise MemoryIndexError(
            f"unknown embedding provider '{name}'; known: {', '.join(sorted(providers))}"
        )
    return entry[0](model or None, dimensions or None)


@attrs.frozen
class MemoryHit:
    """One search result.

    Attributes:
        block_id: The block's id.
        event_id: The event the text came from.
        creature: Whose history it is.
        turn_index: The turn (the "round") it belongs to.
        kind: ``user``, ``assistant``, ``tool``, ``summary``, ``subagent`` or ``channel``.
        tool_name: For tool results and sub-agents: the tool's name.
        timestamp: When it was written.
        content: The block's text.
        score: Higher is better (BM25 for ``fts``, cosine for ``semantic``, fused rank for
            ``hybrid``).
    """

    block_id: int
    event_id: int
    creature: str
    turn_index: int
    kind: str
    tool_name: str
    timestamp: float
    content: str
    score: float


def _fts_query(query: str, joiner: str) -> str:
    """*query* as an FTS5 expression: each word quoted, so no FTS operator can sneak in."""
    return f" {joiner} ".join('"' + w.replace('"', "") + '"' for w in _WORD.findall(query))


class MemoryIndex:
    """Search (and vector indexing) over one open session database.

    Args:
        db: The session database (a peewee database; read-only is enough for ``fts`` and
            for ``semantic`` over blocks already indexed).
        kernel: The plugin set to look embedding providers up in.
    """

    def __init__(self, db: Any, *, kernel: Any = None) -> None:
        self.db = db
        self.kernel = kernel
        self._matrix: Any = None  # cached vectors: (last block id, ids, matrix)

    # -- Index facts ---------------------------------------------------------------------------

    def settings(self) -> dict[str, Any] | None:
        """The vector index's provider, model, dimensions and last block, or ``None``."""
        return get_meta(self.db, "memory")

    def counts(self) -> dict[str, int]:
        """Blocks in the full-text index, blocks with a vector, and blocks still pending."""
        blocks = Block.select(fn.COUNT(Block.id)).scalar(self.db)
        vectors = Vector.select(fn.COUNT(Vector.block_id)).scalar(self.db)
        settings = self.settings()
        pending = blocks
        if settings:
            pending = (
                Block.select(fn.COUNT(Block.id))
                .where(Block.id > settings["last_block_id"])
                .scalar(self.db)
            )
        return {"fts": blocks, "vectors": vectors, "pending": pending}

    def indexed_embedder(self) -> Embedder | None:
        """The embedder the vector index was built with (``None``: no vector index)."""
        settings = self.settings()
        if settings is None:
            return None
        return make_embedder(
            settings["provider"], settings["model"], settings["dimensions"], kernel=self.kernel
        )

    def _check(self, embedder: Embedder) -> None:
        settings = self.settings()
        if settings is None:
            return
        theirs = (settings["provider"], settings["model"], settings["dimensions"])
        ours = (embedder.provider, embedder.model, embedder.dimensions)
        if theirs != ours:
            raise EmbeddingMismatchError(
                f"this session's vector index was built with {theirs[0]}/{theirs[1]} "
                f"({theirs[2]} dimensions), not {ours[0]}/{ours[1]} ({ours[2]} dimensions); "
                f"search with the index's embedder (--provider {theirs[0]}), or rebuild the "
                "index with the new one (kt embedding SESSION --provider ... --rebuild)"
            )

    # -- Building vectors ----------------------------------------------------------------------

    def index(
        self, embedder: Embedder | None = None, *, rebuild: bool = False, batch: int = 256
    ) -> int:
        """Embed every block not embedded yet; returns how many were embedded.

        Args:
            embedder: The embedder; default: the index's own, else the offline default.
            rebuild: Drop the existing vectors first (to change embedder).
            batch: Blocks embedded per transaction.

        Raises:
            EmbeddingMismatchError: *embedder* differs from the index's and not *rebuild*.
        """
        if rebuild:
            with self.db.atomic():
                Vector.delete().execute(self.db)
                SessionMeta.delete().where(SessionMeta.key == "memory").execute(self.db)
        if embedder is None:
            embedder = self.indexed_embedder() or make_embedder(kernel=self.kernel)
        self._check(embedder)
        settings = self.settings() or {
            "provider": embedder.provider,
            "model": embedder.model,
            "dimensions": embedder.dimensions,
            "last_block_id": 0,
            "created_at": time.time(),
        }
        done = 0
        while True:
            query = (
                Block.select(Block.id, Block.content)
                .where(Block.id > settings["last_block_id"])
                .order_by(Block.id)
                .limit(batch)
            )
            rows = list(query.tuples().execute(self.db))
            if not rows:
                break
            vectors = embedder.embed([content for _, content in rows])
            packed = [
                (block_id, array.array("f", vector).tobytes())
                for (block_id, _), vector in zip(rows, vectors, strict=True)
            ]
            with self.db.atomic():
                for chunk in pw.chunked(packed, 400):  # 2 values a row; SQLite takes 999 at least
                    Vector.replace_many(chunk, fields=[Vector.block_id, Vector.embedding]).execute(
                        self.db
                    )
                settings["last_block_id"] = rows[-1][0]
                set_meta(self.db, {"memory": settings})
            done += len(rows)
        if done == 0 and self.settings() is None:
            with self.db.atomic():  # record the embedder even for an empty session
                set_meta(self.db, {"memory": settings})
        return done

    # -- Searching -----------------------------------------------------------------------------

    def search(
        self,
        query: str,
        *,
        mode: str = "auto",
        k: int = 10,
        creature: str | None = None,
        embedder: Embedder | None = None,
    ) -> list[MemoryHit]:
        """The *k* best blocks for *query*.

        Args:
            query: Words to look for (FTS operators are not interpreted).
            mode: ``auto``, ``fts``, ``semantic`` or ``hybrid`` (see the module docs).
            k: How many results at most.
            creature: Only this creature's blocks.
            embedder: The query embedder (default: the index's own).

        Raises:
            ValueError: an unknown mode, or *k* < 1.
            MemoryIndexError: ``semantic`` on a session with no vector index.
            EmbeddingMismatchError: *embedder* is not the index's.
        """
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        if k < 1:
            raise ValueError("k must be at least 1")
        has_vectors = self.settings() is not None
        if mode == "auto":
            mode = "hybrid" if has_vectors else "fts"
        if mode == "hybrid" and not has_vectors:
            mode = "fts"
        if mode == "fts":
            return self._fts(query, k, creature)
        if not has_vectors:
            raise MemoryIndexError(
                "this session has no vector index yet; build it with `kt embedding SESSION` "
                "(offline default embedder), or search with --mode fts"
            )
        if embedder is not None:
            self._check(embedder)
        else:
            embedder = self.indexed_embedder()
        assert embedder is not None
        semantic = self._semantic(query, 2 * k, creature, embedder)
        if mode == "semantic":
            return semantic[:k]
        return _fuse([self._fts(query, 2 * k, creature), semantic], k)

    def _fts(self, query: str, k: int, creature: str | None) -> list[MemoryHit]:
        hits: list[MemoryHit] = []
        for joiner in ("AND", "OR"):  # every word first; any word when that finds nothing
            expression = _fts_query(query, joiner)
            if not expression:
                return []
            where = BlockFTS.match(expression)
            if creature is not None:
                where &= Block.creature == creature
            ranked = (
                BlockFTS.select(*_HIT_COLUMNS, BlockFTS.bm25())
                .join(Block, on=Block.id == BlockFTS.rowid)
                .where(where)
                .order_by(BlockFTS.bm25())
                .limit(k)
            )
            hits = [MemoryHit(*row[:8], score=-row[8]) for row in ranked.tuples().execute(self.db)]
            if hits or len(_WORD.findall(query)) < 2:
                break
        return hits

    def _vectors(self) -> tuple[list[int], Any]:
        settings = self.settings() or {}
        last = settings.get("last_block_id", 0)
        cached = self._matrix
        if cached is not None and cached[0] == last:
            return cached[1], cached[2]
        query = Vector.select(Vector.block_id, Vector.embedding).order_by(Vector.block_id)
        ids, vectors = [], []
        for block_id, blob in query.tuples().iterator(self.db):
            ids.append(block_id)
            vector = array.array("f")
            vector.frombytes(blob)
            vectors.append(vector)
        try:
            import numpy

            matrix: Any = (
                numpy.array(vectors, dtype=numpy.float32)
                if vectors
                else numpy.zeros((0, settings.get("dimensions", 1)), dtype=numpy.float32)
            )
        except ImportError:  # pure Python: fine for the sessions a person reads
            matrix = vectors
        self._matrix = (last, ids, matrix)
        return ids, matrix

    def _semantic(
        self, query: str, k: int, creature: str | None, embedder: Embedder
    ) -> list[MemoryHit]:
        ids, matrix = self._vectors()
        if not ids:
            return []
        query_vector = list(embedder.embed([query])[0])
        try:
            import numpy

            scores = matrix @ numpy.asarray(query_vector, dtype=numpy.float32)
            order = numpy.argsort(-scores)
            ranked: Iterable[tuple[int, float]] = (
                (ids[i], float(scores[i])) for i in order.tolist()
            )
        except ImportError:
            pairs = [
                (ids[i], sum(a * b for a, b in zip(v, query_vector, strict=False)))
                for i, v in enumerate(matrix)
            ]
            ranked = sorted(pairs, key=lambda p: -p[1])
        hits = []
        for block_id, score in ranked:
            hit = self._block(block_id, score)
            if hit is None or (creature is not None and hit.creature != creature):
                continue
            hits.append(hit)
            if len(hits) >= k:
                break
        return hits

    def _block(self, block_id: int, score: float) -> MemoryHit | None:
        row = Block.select(*_HIT_COLUMNS).where(Block.id == block_id).tuples().first(self.db)
        return None if row is None else MemoryHit(*row, score=score)


def _fuse(rankings: Sequence[Sequence[MemoryHit]], k: int) -> list[MemoryHit]:
    """Reciprocal-rank fusion: score = sum of 1 / (60 + rank) over the rankings."""
    scores: dict[int, float] = {}
    hits: dict[int, MemoryHit] = {}
    for ranking in rankings:
        for rank, hit in enumerate(ranking, start=1):
            scores[hit.block_id] = scores.get(hit.block_id, 0.0) + 1.0 / (_RRF_K + rank)
            hits.setdefault(hit.block_id, hit)
    best = sorted(scores, key=lambda block_id: -scores[block_id])[:k]
    return [attrs.evolve(hits[b], score=scores[b]) for b in best]


def _age(timestamp: float, now: float) -> str:
    seconds = max(0.0, now - timestamp)
    if seconds < 60:
        return f"{int(seconds)}s ago"
    if seconds < 3600:
        return f"{int(seconds // 60)}m ago"
    if seconds < 86400:
        return f"{seconds / 3600:.1f}h ago"
    return f"{seconds / 86400:.1f}d ago"


def format_hits(query: str, hits: Sequence[MemoryHit], *, width: int = 500) -> str:
    """Hits as the ``search_memory`` tool and ``kt search`` print them."""
    if not hits:
        return "No results found."
    now = time.time()
    lines = [f"Found {len(hits)} result(s) for: {query}"]
    for i, hit in enumerate(hits, start=1):
        kind = f"{hit.kind}:{hit.tool_name}" if hit.tool_name else hit.kind
        lines.append(
            f"#{i} [round {hit.turn_index}] {kind} ({hit.creature}) {_age(hit.timestamp, now)}"
        )
        text = hit.content
        if len(text) > width:
            text = f"{text[:width]}... ({len(text)} chars total)"
        lines.append("    " + text.replace("\n", "\n    "))
    return "\n".join(lines)
