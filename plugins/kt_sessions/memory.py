"""Memory search over a session: full text (SQLite FTS5), vectors, and both merged.

What is searched. Every message appended to a creature's history becomes a *block* as it is
written: the user's input, the assistant's reply (with its tool calls as ``[tool:name] args``),
each tool result (``[result:name] output``), compaction summaries, sub-agent outputs and channel
messages. Texts longer than 4,000 characters are cut into several blocks. The FTS5 index is
updated by the recorder at the end of each turn (within a second during a long one; see
:mod:`kt_sessions.store`), so full-text search needs no indexing step and finds text from runs
still being written, up to their last completed turn.

Vectors are built on demand (:meth:`MemoryIndex.index`, ``kt embedding``, the
``search_memory`` tool), incrementally: only blocks added since the last indexing are
embedded. The index records the embedder's provider, model and dimensions, and queries are
embedded with that same embedder; a query made with another one is refused with
:class:`~kt_sessions.errors.EmbeddingMismatchError` rather than silently returning nonsense.

Embedders. Two kinds, and the difference matters:

* *lexical*: the offline default, ``hashed`` (model ``char-ngram-v1``, 256 dimensions), needs
  no download and no third-party package: each text becomes a bag of its words and of the
  character trigrams of its words, hashed (BLAKE2) into a fixed-size vector with random signs
  and L2-normalised. It matches shared words and word pieces ("deploy" / "deployment"), not
  meaning ("car" does not find "automobile"); it is deterministic across processes and
  machines. Its old name, ``hashing``, is still accepted, with a deprecation note.
* *semantic*: real embedding models, which place texts of similar meaning close together:
  ``model2vec`` (static models, numpy and tokenizers only, :mod:`kt_sessions.static_model`),
  ``sentence-transformers`` (needs torch), an OpenAI-compatible ``/v1/embeddings`` endpoint
  (``openai``, from the ``kt_openai`` plugin), or any provider another plugin registers
  through the ``kt_embedding_providers`` hook.

Modes: ``fts`` (BM25), ``semantic`` (cosine similarity of the index's vectors: by meaning
only when its embedder is a semantic one), ``hybrid`` (reciprocal-rank fusion of both,
constant 60), ``auto`` (``hybrid`` when the session has a vector index, else ``fts``).
"""

from __future__ import annotations

import array
import hashlib
import inspect
import json
import math
import re
import time
import warnings
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from typing import Any, Protocol

import attrs
import peewee as pw
from peewee import fn

from kt.errors import KTError
from kt_sessions.db import Block, BlockFTS, Creature, SessionMeta, Vector, get_meta, set_meta
from kt_sessions.errors import EmbeddingMismatchError, MemoryIndexError

__all__ = [
    "DEFAULT_PROVIDER",
    "Embedder",
    "EmbedderFactory",
    "HashedEmbedder",
    "HashingEmbedder",
    "LEXICAL_PROVIDERS",
    "MemoryHit",
    "MemoryIndex",
    "configured_embedder",
    "describe_embedding",
    "embed_async",
    "embedding_providers",
    "format_hits",
    "make_embedder",
    "recorded_memory",
    "resolve_provider",
    "search_as_creature",
]

DEFAULT_PROVIDER = "hashed"
RENAMED_PROVIDERS = {"hashing": "hashed"}
"""Old provider names, still accepted with a deprecation note (and in session files)."""
PROVIDER_ALIASES = {"sentence-transformer": "sentence-transformers", "api": "openai"}
"""The reference framework's provider names, so its packs' configs work unchanged."""
LEXICAL_PROVIDERS = frozenset({"hashed"})
"""Providers whose vectors match words and word pieces, not meaning."""
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

    Two members are optional: ``async aembed(texts)``, used instead of running ``embed`` in a
    worker thread when the embedder does I/O (an HTTP endpoint); and ``config``, the table
    that builds the same embedder again (``{"provider", "model", "dimensions", ...}``, never
    a secret), recorded in the session so that queries use exactly the index's embedder.
    Without ``config`` the provider, model and dimensions are recorded.

    Attributes:
        provider: The provider name (``hashed``, ``model2vec`` ...).
        model: The model name.
        dimensions: The length of every vector (``None`` until the first call, for an
            endpoint that decides it).
    """

    provider: str
    model: str
    dimensions: int | None

    def embed(self, texts: Sequence[str]) -> list[Sequence[float]]:
        """One vector per text, in order, L2-normalised (search ranks by dot product)."""


class HashedEmbedder:
    """The offline default, lexical: hashed words and word pieces (see the module docs).

    It matches texts that share words or parts of words, not texts that mean the same thing.

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
        return _unit(vector)

    def embed(self, texts: Sequence[str]) -> list[Sequence[float]]:
        """One vector per text."""
        return [self.embed_one(text) for text in texts]


def _unit(vector: list[float]) -> list[float]:
    """*vector* scaled to length 1 (a zero vector stays zero)."""
    norm = math.sqrt(sum(v * v for v in vector))
    return [v / norm for v in vector] if norm else vector


HashingEmbedder = HashedEmbedder  # the class's name before the provider was renamed


class _SentenceTransformerEmbedder:
    provider = "sentence-transformers"

    def __init__(self, model: str | None, dimensions: int | None) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise MemoryIndexError(
                "the sentence-transformers provider needs the sentence-transformers package "
                "(pip install sentence-transformers) and its model weights; or use the "
                "model2vec provider (numpy only), or the offline lexical one: --provider hashed"
            ) from exc
        self.model = model or "all-MiniLM-L6-v2"
        self._model = SentenceTransformer(self.model)
        self.dimensions = dimensions or int(self._model.get_sentence_embedding_dimension())

    def embed(self, texts: Sequence[str]) -> list[Sequence[float]]:
        vectors = self._model.encode(list(texts), normalize_embeddings=True)
        return [_unit(list(v[: self.dimensions])) for v in vectors]  # a prefix: unit again


EmbedderFactory = Callable[..., Embedder]
"""``factory(model, dimensions)``, or ``factory(model, dimensions, options=...)`` for a
provider that takes more settings (``base_url`` ...): either of the first two may be ``None``."""


def _hashed(model: str | None, dimensions: int | None) -> Embedder:
    if model not in (None, "", HashedEmbedder.model):
        raise MemoryIndexError(
            f"the hashed provider has one model, '{HashedEmbedder.model}', not '{model}'; "
            "remove memory.embedding.model"
        )
    return HashedEmbedder(dimensions or 256)


def _model2vec(model: str | None, dimensions: int | None) -> Embedder:
    from kt_sessions.static_model import StaticEmbedder

    return StaticEmbedder(model, dimensions)


def _auto(model: str | None, dimensions: int | None) -> Embedder:
    """model2vec when its model is on this machine, else the lexical default.

    The index records the embedder actually chosen, so ``kt embedding`` says which it was.
    """
    try:
        return _model2vec(model, dimensions)
    except MemoryIndexError:
        return _hashed(None, None)


BUILTIN_PROVIDERS: dict[str, tuple[EmbedderFactory, str]] = {
    "hashed": (
        _hashed,
        "lexical: hashed words and word pieces; matches shared words, not meaning (offline, "
        "no download)",
    ),
    "model2vec": (
        _model2vec,
        "semantic: static embedding models read with numpy (presets @tiny ... "
        "@multilingual-best; from the Hugging Face cache or a folder, never downloaded)",
    ),
    "sentence-transformers": (
        _SentenceTransformerEmbedder,
        "semantic: sentence-transformers models (needs the package, torch and the weights)",
    ),
    "auto": (
        _auto,
        "model2vec when its model is on this machine (semantic), else hashed (lexical)",
    ),
}


def resolve_provider(name: str | None) -> tuple[str, str | None]:
    """The current name of an embedding provider, and a deprecation note for an old name.

    Args:
        name: A provider name as written in a config, a command or a session file
            (``None``: the default).

    Returns:
        ``(name, note)``: ``note`` is ``None`` unless *name* is a renamed provider.
    """
    asked = name or DEFAULT_PROVIDER
    renamed = RENAMED_PROVIDERS.get(asked)
    if renamed is not None:
        return renamed, (
            f"the embedding provider '{asked}' is now called '{renamed}', a name that says what "
            f"it does: it matches words and word pieces, not meaning; write provider = "
            f'"{renamed}" (or choose a semantic one, such as "model2vec")'
        )
    return PROVIDER_ALIASES.get(asked, asked), None


def embedding_providers(kernel: Any = None) -> dict[str, tuple[EmbedderFactory, str]]:
    """Embedding providers by name: the built-in ones, then those plugins register.

    Plugins register through the ``kt_embedding_providers(register)`` hook, calling
    ``register(name, factory, description)`` (see :data:`EmbedderFactory`); the factory
    returns an :class:`Embedder`.

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


def _takes_options(factory: Callable[..., Any]) -> bool:
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: try it
        return True
    return any(p.name == "options" or p.kind is p.VAR_KEYWORD for p in parameters)


def make_embedder(
    provider: str | None = None,
    model: str | None = None,
    dimensions: int | None = None,
    *,
    kernel: Any = None,
    options: Mapping[str, Any] | None = None,
) -> Embedder:
    """Build an embedder by provider name (default: the offline, lexical ``hashed`` one).

    An old provider name (``hashing``) still works and raises a :class:`DeprecationWarning`.

    Args:
        provider: The provider's name.
        model: The provider's model (``None``: its default).
        dimensions: The vector size (``None``: the model's).
        kernel: The plugin set whose ``kt_embedding_providers`` to ask.
        options: The provider's other settings (``base_url`` ...), for providers that take
            them.

    Raises:
        MemoryIndexError: an unknown provider, one whose package or model is missing, or
            options a provider does not take.
    """
    providers = embedding_providers(kernel)
    name, note = resolve_provider(provider)
    if note is not None:
        warnings.warn(note, DeprecationWarning, stacklevel=2)
    entry = providers.get(name)
    if entry is None:
        hint = " (the kt_openai plugin provides it)" if name == "openai" else ""
        raise MemoryIndexError(
            f"unknown embedding provider '{name}'{hint}; known: {', '.join(sorted(providers))}"
        )
    factory = entry[0]
    if not options:
        return factory(model or None, dimensions or None)
    if not _takes_options(factory):
        raise MemoryIndexError(
            f"the embedding provider '{name}' takes only provider, model and dimensions; "
            f"remove {', '.join(sorted(options))} from memory.embedding"
        )
    return factory(model or None, dimensions or None, options=dict(options))


def configured_embedder(
    memory: Mapping[str, Any] | None, *, kernel: Any = None
) -> tuple[Embedder, str | None]:
    """The embedder a creature's ``memory`` settings ask for (``memory.embedding``).

    ``memory.embedding`` holds ``provider``, ``model``, ``dimensions`` and, for providers
    that take them, more keys (``base_url``, ``api_key_env`` ...). No table: the default.

    Args:
        memory: The creature's ``memory`` settings.
        kernel: The plugin set that provides embedders.

    Returns:
        ``(embedder, note)``: a deprecation note when the table uses an old provider name.

    Raises:
        MemoryIndexError: a setting is malformed, or the embedder cannot be built (the
            message names the setting and the fix).
    """
    table = dict((memory or {}).get("embedding") or {})
    provider = table.pop("provider", None)
    model = table.pop("model", None)
    dimensions = table.pop("dimensions", None)
    for key, value in (("provider", provider), ("model", model)):
        if value is not None and not isinstance(value, str):
            raise MemoryIndexError(f"memory.embedding.{key} must be a string, not {value!r}")
    if dimensions is not None and (
        isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 1
    ):
        raise MemoryIndexError(
            f"memory.embedding.dimensions must be a positive integer, not {dimensions!r}"
        )
    _, note = resolve_provider(provider)
    with warnings.catch_warnings():  # the note is returned, for the caller to show
        warnings.simplefilter("ignore", DeprecationWarning)
        embedder = make_embedder(provider, model, dimensions, kernel=kernel, options=table)
    return embedder, note


def recorded_memory(db: Any) -> dict[str, Any] | None:
    """The ``memory`` settings of the first creature of a session that configures an embedder.

    ``kt embedding`` indexes with them when the session has no index and no provider is
    named, as the creature's own ``search_memory`` would.
    """
    for (config,) in (
        Creature.select(Creature.config).order_by(Creature.started_at).tuples().execute(db)
    ):
        memory = (config or {}).get("memory") if isinstance(config, Mapping) else None
        if isinstance(memory, Mapping) and memory.get("embedding"):
            return dict(memory)
    return None


def embedder_config(embedder: Embedder) -> dict[str, Any]:
    """The table that builds *embedder* again (its ``config``, else provider/model/size)."""
    config = getattr(embedder, "config", None)
    if config is not None:
        return dict(config)
    return {
        "provider": embedder.provider,
        "model": embedder.model,
        "dimensions": embedder.dimensions,
    }


def describe_embedding(settings: Mapping[str, Any]) -> str:
    """One line on a vector index's embedder, saying whether it matches words or meaning.

    Args:
        settings: :meth:`MemoryIndex.settings` (or any table with provider, model and
            dimensions).
    """
    provider, _ = resolve_provider(settings.get("provider"))
    kind = (
        "lexical: matches shared words and word pieces, not meaning"
        if provider in LEXICAL_PROVIDERS
        else "semantic: matches meaning"
    )
    return f"{provider} ({settings.get('model')}, {settings.get('dimensions')} dimensions); {kind}"


async def embed_async(embedder: Embedder, texts: Sequence[str]) -> list[Sequence[float]]:
    """Embed *texts* without blocking the trio loop.

    An embedder with ``aembed`` (an HTTP endpoint) is awaited; any other one runs in a worker
    thread, since a model's arithmetic would otherwise stop every other task of the run.
    Cancellation waits for a running thread to finish its batch.
    """
    aembed = getattr(embedder, "aembed", None)
    if aembed is not None:
        return list(await aembed(list(texts)))
    import trio

    return list(await trio.to_thread.run_sync(embedder.embed, list(texts)))


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

    Each operation has a synchronous form (:meth:`index`, :meth:`search`: scripts, ``kt
    embedding``) and an async one for code running under trio (:meth:`aindex`,
    :meth:`asearch`: the ``search_memory`` tool), which embeds off the event loop.

    Args:
        db: The session database (a peewee database; read-only is enough for ``fts`` and
            for ``semantic`` over blocks already indexed).
        kernel: The plugin set to look embedding providers up in.
    """

    def __init__(self, db: Any, *, kernel: Any = None) -> None:
        self.db = db
        self.kernel = kernel
        self._matrix: Any = None  # cached vectors: (last block id, ids, matrix)
        self._embedder: tuple[str, Embedder] | None = None  # the index's, built once
        self._lock: Any = None  # a trio.Lock: one aindex at a time
        self.noted: set[str] = set()  # notes already shown to the user (search_as_creature)

    # -- Index facts ---------------------------------------------------------------------------

    def settings(self) -> dict[str, Any] | None:
        """The vector index's provider, model, dimensions and last block, or ``None``.

        ``embedding`` is the table that builds the index's embedder again. A provider
        recorded under an old name (``hashing``) is given under its current one.
        """
        settings = get_meta(self.db, "memory")
        if settings is not None:
            settings["provider"], _ = resolve_provider(settings["provider"])
        return settings

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
        """The embedder the vector index was built with (``None``: no vector index).

        Built once per :class:`MemoryIndex` (a model may take a moment to open).
        """
        settings = self.settings()
        if settings is None:
            return None
        config = dict(settings.get("embedding") or {})
        if not config:  # files written before the table was recorded
            config = {k: settings[k] for k in ("provider", "model", "dimensions")}
        key = json.dumps(config, sort_keys=True, default=str)
        if self._embedder is None or self._embedder[0] != key:
            provider, _ = resolve_provider(config.pop("provider", None))
            model = config.pop("model", None)
            dimensions = config.pop("dimensions", None)
            embedder = make_embedder(
                provider, model, dimensions, kernel=self.kernel, options=config
            )
            self._embedder = (key, embedder)
        return self._embedder[1]

    def _check(self, embedder: Embedder) -> None:
        settings = self.settings()
        if settings is None:
            return
        theirs = (settings["provider"], settings["model"], settings["dimensions"])
        ours = (resolve_provider(embedder.provider)[0], embedder.model, embedder.dimensions)
        same_size = ours[2] is None or theirs[2] == ours[2]  # None: decided by the endpoint
        if theirs[:2] != ours[:2] or not same_size:
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
        steps = self._indexing(embedder, rebuild, batch)
        try:
            request = next(steps)
            while True:
                chosen, texts = request
                request = steps.send(list(chosen.embed(texts)))
        except StopIteration as stop:
            return stop.value

    async def aindex(
        self, embedder: Embedder | None = None, *, rebuild: bool = False, batch: int = 256
    ) -> int:
        """:meth:`index` for trio code: embedding runs off the event loop (:func:`embed_async`).

        Calls on one index run one at a time. Cancelled between batches, the batches already
        written stay (each is one transaction) and the next call carries on from there.
        """
        import trio

        if self._lock is None:
            self._lock = trio.Lock()
        async with self._lock:
            steps = self._indexing(embedder, rebuild, batch)
            try:
                request = next(steps)
                while True:
                    chosen, texts = request
                    request = steps.send(await embed_async(chosen, texts))
            except StopIteration as stop:
                return stop.value

    def _indexing(
        self, embedder: Embedder | None, rebuild: bool, batch: int
    ) -> Generator[tuple[Embedder, list[str]], list[Sequence[float]], int]:
        """Indexing as steps: yields ``(embedder, texts)``, is sent their vectors.

        One loop serves :meth:`index` and :meth:`aindex`, which differ only in how they
        call the embedder.
        """
        if rebuild:
            with self.db.atomic():
                Vector.delete().execute(self.db)
                SessionMeta.delete().where(SessionMeta.key == "memory").execute(self.db)
            self._matrix = None
        if embedder is None:
            embedder = self.indexed_embedder() or make_embedder(kernel=self.kernel)
        self._check(embedder)
        settings = self.settings()
        done = 0
        while True:
            query = (
                Block.select(Block.id, Block.content)
                .where(Block.id > (settings["last_block_id"] if settings else 0))
                .order_by(Block.id)
                .limit(batch)
            )
            rows = list(query.tuples().execute(self.db))
            if not rows:
                break
            vectors = yield embedder, [content for _, content in rows]
            if settings is None:
                settings = self._new_settings(embedder, len(vectors[0]))
            elif len(vectors[0]) != settings["dimensions"]:
                raise EmbeddingMismatchError(
                    f"the embedder returned {len(vectors[0])} dimensions, the index holds "
                    f"{settings['dimensions']}; rebuild it (kt embedding SESSION --rebuild)"
                )
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
        if settings is None and embedder.dimensions is not None:
            with self.db.atomic():  # record the embedder even for an empty session
                set_meta(self.db, {"memory": self._new_settings(embedder, embedder.dimensions)})
        return done

    @staticmethod
    def _new_settings(embedder: Embedder, dimensions: int) -> dict[str, Any]:
        return {
            "provider": resolve_provider(embedder.provider)[0],
            "model": embedder.model,
            "dimensions": dimensions,
            "embedding": embedder_config(embedder),
            "last_block_id": 0,
            "created_at": time.time(),
        }

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
        mode, embedder = self._plan(mode, k, embedder)
        vector = None if embedder is None else list(embedder.embed([query])[0])
        return self._ranked(query, mode, k, creature, vector)

    async def asearch(
        self,
        query: str,
        *,
        mode: str = "auto",
        k: int = 10,
        creature: str | None = None,
        embedder: Embedder | None = None,
    ) -> list[MemoryHit]:
        """:meth:`search` for trio code: the query is embedded off the event loop."""
        mode, embedder = self._plan(mode, k, embedder)
        vector = None if embedder is None else list((await embed_async(embedder, [query]))[0])
        return self._ranked(query, mode, k, creature, vector)

    def _plan(self, mode: str, k: int, embedder: Embedder | None) -> tuple[str, Embedder | None]:
        """The mode to run (``auto`` decided) and the query's embedder (``None``: fts)."""
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
            return mode, None
        if not has_vectors:
            raise MemoryIndexError(
                "this session has no vector index yet; build it with `kt embedding SESSION` "
                "(offline default embedder), or search with --mode fts"
            )
        if embedder is not None:
            self._check(embedder)
        else:
            embedder = self.indexed_embedder()
        return mode, embedder

    def _ranked(
        self,
        query: str,
        mode: str,
        k: int,
        creature: str | None,
        vector: Sequence[float] | None,
    ) -> list[MemoryHit]:
        if mode == "fts" or vector is None:
            return self._fts(query, k, creature)
        semantic = self._semantic(vector, 2 * k, creature)
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
        self, query_vector: Sequence[float], k: int, creature: str | None
    ) -> list[MemoryHit]:
        ids, matrix = self._vectors()
        if not ids:
            return []
        width = len(matrix[0])
        if len(query_vector) != width:
            raise EmbeddingMismatchError(
                f"the query has {len(query_vector)} dimensions, the index {width}; search "
                "with the index's embedder, or rebuild the index (kt embedding SESSION --rebuild)"
            )
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


async def search_as_creature(
    index: MemoryIndex,
    query: str,
    *,
    mode: str,
    k: int,
    creature: str | None,
    memory: Mapping[str, Any] | None,
) -> tuple[list[MemoryHit], list[str]]:
    """Search the way a creature's ``search_memory`` call does; returns hits and notes.

    First the vector index is brought up to date (only blocks written since the last call
    are embedded): with the index's own embedder, or, for a session without one, with the
    creature's ``memory.embedding`` settings. That happens for ``semantic`` and ``hybrid``,
    and for ``auto`` when the session has vectors or the creature configures an embedder.

    In ``auto`` mode an embedder that cannot be used (its model is not on this machine, its
    endpoint is down) does not fail the search: it runs on full text, and a note says why.
    ``semantic`` and ``hybrid`` raise instead, since the caller asked for vectors.

    Args:
        index: The session's index (``index.kernel`` provides the embedders).
        query: The words to look for.
        mode: ``auto``, ``fts``, ``semantic`` or ``hybrid``.
        k: How many hits at most.
        creature: Only this creature's blocks.
        memory: The creature's ``memory`` settings.

    Returns:
        ``(hits, notes)``: each note (a deprecated provider name, semantic search off) once
        per index, for the caller to show the user as a warning.

    Raises:
        KTError: the embedder failed and *mode* is not ``auto``; a malformed setting.
    """
    notes: list[str] = []
    configured = bool((memory or {}).get("embedding"))
    embedder: Embedder | None = None
    if mode in ("semantic", "hybrid") or (
        mode == "auto" and (configured or index.settings() is not None)
    ):
        try:
            embedder = index.indexed_embedder()
            if embedder is None:
                embedder, note = configured_embedder(memory, kernel=index.kernel)
                if note is not None:
                    notes.append(note)
            await index.aindex(embedder)
        except KTError as exc:
            if mode != "auto":
                raise
            notes.append(f"memory search runs on full text only: {exc}")
            embedder, mode = None, "fts"
    hits = await index.asearch(query, mode=mode, k=k, creature=creature, embedder=embedder)
    fresh = [note for note in notes if note not in index.noted]
    index.noted.update(fresh)
    return hits, fresh


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
