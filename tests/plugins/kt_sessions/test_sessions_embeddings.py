"""Embedding providers for memory search: model2vec static models, the hashed (lexical) one, the pack's config.

Every model here is a tiny one the test writes to disk (tiny_static_model.py); nothing is
downloaded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tokenizers")

import kt  # noqa: E402
import kt_sessions  # noqa: E402
from kt.events import AgentWarning  # noqa: E402
from kt.testing import ScriptedLLM, ToolCall  # noqa: E402
from kt_sessions import db as _db  # noqa: E402
from kt_sessions.errors import EmbeddingModelNotFoundError, MemoryIndexError  # noqa: E402
from kt_sessions.memory import (  # noqa: E402
    HashedEmbedder,
    MemoryIndex,
    configured_embedder,
    describe_embedding,
    make_embedder,
    resolve_provider,
)
from kt_sessions.static_model import PRESETS, StaticEmbedder, StaticModel, resolve_model  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
import tiny_static_model as tiny  # noqa: E402

PACK = Path(__file__).resolve().parents[4] / "shared" / "fixtures" / "kt-biome"
MULTILINGUAL_BEST = PRESETS["@multilingual-best"]


@pytest.fixture
def hf_cache(tmp_path, monkeypatch):
    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    return cache


def pack_memory() -> dict:
    """The ``memory`` block of the reference pack's base creature, read from the pack itself."""
    yaml = pytest.importorskip("yaml")
    config = yaml.safe_load((PACK / "creatures" / "general" / "config.yaml").read_text())
    return config["memory"]


# -- The model2vec loader -------------------------------------------------------------------------


def test_a_text_is_the_normalised_mean_of_its_known_tokens(tmp_path):
    model = StaticModel(tiny.build(tmp_path / "m"))
    assert model.dimensions == tiny.DIM
    out = model.encode(["Deployment of the service", "zzz qqq", "", "deploy xyzzy bug"])
    assert out.dtype == np.float32 and out.shape == (4, tiny.DIM)
    np.testing.assert_allclose(
        out[0], tiny.expected(["deploy", "##ment", "the", "service"]), rtol=1e-6
    )
    assert not out[1].any() and not out[2].any()  # only unknown tokens, or none: zeros
    np.testing.assert_allclose(
        out[3], tiny.expected(["deploy", "bug"]), rtol=1e-6
    )  # [UNK] left out


@pytest.mark.parametrize("layout", ["sentence-transformers", "nested"])
def test_sentence_transformers_layouts_load_the_same_vectors(tmp_path, layout):
    theirs = StaticModel(tiny.build(tmp_path / layout, layout=layout))
    ours = StaticModel(tiny.build(tmp_path / "m2v"))
    texts = ["release the login service", "lunch menu"]
    np.testing.assert_allclose(theirs.encode(texts), ours.encode(texts), rtol=1e-6)


def test_a_quantised_vocabulary_uses_its_mapping_and_weights(tmp_path):
    model = StaticModel(tiny.build(tmp_path / "q", quantised=True))
    release, bug_deploy = model.encode(["release", "bug deploy"])
    np.testing.assert_allclose(release, tiny.expected(["deploy"]), rtol=1e-6)  # mapped row
    matrix = tiny.vectors()
    mean = (2.0 * matrix[tiny.VOCAB.index("bug")] + matrix[tiny.VOCAB.index("deploy")]) / 2
    np.testing.assert_allclose(bug_deploy, mean / np.linalg.norm(mean), rtol=1e-6)


def test_float16_weights_and_max_length(tmp_path):
    half = StaticModel(tiny.build(tmp_path / "f16", dtype="float16", max_length=2))
    # Cut as model2vec cuts: to max_length times the median token length (5) in characters
    # ("bug the lu"), then to max_length tokens; "lunch" is never counted.
    (vector,) = half.encode(["bug the lunch"])
    np.testing.assert_allclose(vector, tiny.expected(["bug", "the"]), rtol=1e-3)


def test_dimensions_keep_the_leading_ones_and_renormalise(tmp_path):
    embedder = StaticEmbedder(str(tiny.build(tmp_path / "m")), dimensions=4)
    (vector,) = embedder.embed(["deploy bug"])
    assert len(vector) == 4 and embedder.dimensions == 4
    assert np.isclose(np.linalg.norm(vector), 1.0)
    with pytest.raises(MemoryIndexError, match="memory.embedding.dimensions is 9"):
        StaticEmbedder(str(tmp_path / "m"), dimensions=9)


def test_the_vectors_match_the_model2vec_package(tmp_path):
    model2vec = pytest.importorskip("model2vec")
    saved = tmp_path / "saved"
    model2vec.StaticModel(tiny.vectors(), tiny.tokenizer(), normalize=True).save_pretrained(saved)
    texts = ["Deployment of the service", "auth bug in login", "lunch", "release menu xyzzy"]
    reference = model2vec.StaticModel.from_pretrained(saved, force_download=False).encode(texts)
    np.testing.assert_allclose(StaticModel(saved).encode(texts), reference, rtol=1e-5, atol=1e-7)


def test_loading_and_embedding_import_neither_torch_nor_model2vec(tmp_path):
    folder = tiny.build(tmp_path / "m")
    probe = (
        "import sys\n"
        "from kt_sessions.memory import make_embedder\n"
        f"e = make_embedder('model2vec', {str(folder)!r})\n"
        "print(len(e.embed(['deploy the service'])[0]))\n"
        "print(sorted(m for m in ('torch', 'model2vec', 'safetensors', 'huggingface_hub', "
        "'transformers') if m in sys.modules))\n"
    )
    root = Path(__file__).resolve().parents[3]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(str(root / p) for p in ("kernel", "plugins")),
    }
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == [str(tiny.DIM), "[]"]


def test_a_malformed_weights_file_is_a_typed_error(tmp_path):
    folder = tiny.build(tmp_path / "m")
    (folder / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
    with pytest.raises(MemoryIndexError, match="not a safetensors file"):
        StaticModel(folder)
    header = b'{"embeddings": {"dtype": "BF16", "shape": [12, 8], "data_offsets": [0, 192]}}'
    weights = folder / "model.safetensors"
    weights.write_bytes(len(header).to_bytes(8, "little") + header + bytes(192))
    with pytest.raises(MemoryIndexError, match="BF16, which numpy cannot read"):
        StaticModel(folder)
    header = b'{"embeddings": {"dtype": "F32", "shape": [12, 8], "data_offsets": [0, 384]}}'
    weights.write_bytes(len(header).to_bytes(8, "little") + header + bytes(100))  # cut short
    with pytest.raises(MemoryIndexError, match="does not fit its declared shape"):
        StaticModel(folder)


# -- Finding models ---------------------------------------------------------------------------------


def test_presets_and_repo_ids_are_found_in_the_hugging_face_cache(hf_cache):
    tiny.build_in_hf_cache(hf_cache, MULTILINGUAL_BEST, layout="nested")
    name, folder = resolve_model("@multilingual-best")
    assert name == MULTILINGUAL_BEST and (folder / "0_StaticEmbedding").is_dir()
    assert resolve_model(MULTILINGUAL_BEST)[0] == MULTILINGUAL_BEST
    embedder = make_embedder("model2vec", "@multilingual-best")
    assert (embedder.provider, embedder.model, embedder.dimensions) == (
        "model2vec",
        MULTILINGUAL_BEST,
        tiny.DIM,
    )


def test_a_missing_model_names_the_setting_and_the_fix(hf_cache):
    with pytest.raises(EmbeddingModelNotFoundError) as caught:
        configured_embedder(pack_memory())
    message = str(caught.value)
    assert "memory.embedding.model" in message and "'@multilingual-best'" in message
    assert f"hf download {MULTILINGUAL_BEST}" in message and str(hf_cache) in message
    assert 'memory.embedding.provider = "hashed"' in message
    with pytest.raises(EmbeddingModelNotFoundError, match="unknown model2vec preset '@huge'"):
        make_embedder("model2vec", "@huge")
    with pytest.raises(EmbeddingModelNotFoundError, match="holds no static model"):
        make_embedder("model2vec", str(hf_cache))  # a folder, but not a model's


def test_auto_takes_model2vec_when_its_model_is_here_else_the_lexical_default(hf_cache):
    assert make_embedder("auto").provider == "hashed"
    tiny.build_in_hf_cache(hf_cache, PRESETS["@base"])
    chosen = make_embedder("auto")
    assert (chosen.provider, chosen.model) == ("model2vec", PRESETS["@base"])


# -- The hashed embedder's honest name ------------------------------------------------------------


def test_the_hashed_provider_says_it_is_lexical_and_the_old_name_still_works():
    assert isinstance(make_embedder(), HashedEmbedder)
    assert make_embedder().provider == "hashed"
    assert resolve_provider("hashed") == ("hashed", None)
    name, note = resolve_provider("hashing")
    assert name == "hashed" and "now called 'hashed'" in note and "not meaning" in note
    with pytest.warns(DeprecationWarning, match="now called 'hashed'"):
        old = make_embedder("hashing", dimensions=32)
    assert (old.provider, old.dimensions) == ("hashed", 32)
    line = describe_embedding({"provider": "hashing", "model": "char-ngram-v1", "dimensions": 256})
    assert line == (
        "hashed (char-ngram-v1, 256 dimensions); lexical: matches shared words and word "
        "pieces, not meaning"
    )
    assert describe_embedding({"provider": "model2vec", "model": "m", "dimensions": 8}).endswith(
        "semantic: matches meaning"
    )


def test_a_session_indexed_under_the_old_name_keeps_its_vectors(tmp_path):
    """A file from a release that recorded ``hashing``: same vectors, under the new name."""
    fixture = Path(__file__).parent / "fixtures" / "schema2-before-orm.sqlite"
    path = tmp_path / "old.ktsession"
    path.write_bytes(fixture.read_bytes())
    for suffix in ("-wal", "-shm"):
        if Path(f"{fixture}{suffix}").exists():
            Path(f"{path}{suffix}").write_bytes(Path(f"{fixture}{suffix}").read_bytes())
    db = _db.open_database(path)
    try:
        assert _db.get_meta(db, "memory")["provider"] == "hashing"  # as that release wrote it
        index = MemoryIndex(db)
        assert index.settings()["provider"] == "hashed"
        assert index.indexed_embedder().dimensions == 16
        before = index.search("staging config", mode="semantic", k=3)
        assert index.index(HashedEmbedder(16)) == 0  # the same embedder: no mismatch
        assert index.search("staging config", mode="semantic", k=3) == before
    finally:
        db.close()


# -- The pack's memory config, end to end ---------------------------------------------------------


async def recorded_agent(memory, session_dir, replies):
    config = {"name": "biome", "tools": [{"name": "search_memory"}], "memory": memory}
    kernel = kt.Kernel(plugins=[kt_sessions])
    return await kt.Agent.build(
        config, llm=ScriptedLLM(replies), kernel=kernel, session=True, session_dir=session_dir
    )


async def test_the_packs_model2vec_config_searches_by_meaning(hf_cache, tmp_path):
    tiny.build_in_hf_cache(hf_cache, MULTILINGUAL_BEST, layout="nested")
    search = ToolCall("search_memory", {"query": "release", "mode": "semantic", "k": 1})
    agent = await recorded_agent(
        pack_memory(), tmp_path / "sessions", ["ok", "ok", "ok", search, "done"]
    )
    async with agent:
        await agent.run("We deploy the service tomorrow.")
        await agent.run("The auth bug is in login.")
        await agent.run("Lunch menu on Friday.")
        result = await agent.run("what did we plan?")
    (call,) = result.tool_calls
    assert call.status == "ok", call.error
    assert "We deploy the service tomorrow." in call.output  # no shared word with "release"
    with kt_sessions.SessionReader(agent.session.path) as reader:
        settings = reader.memory.settings()
        assert (settings["provider"], settings["model"]) == ("model2vec", MULTILINGUAL_BEST)
        assert reader.search("release", mode="fts") == []  # words alone would not find it
    lexical = MemoryIndex(_db.open_database(agent.session.path))
    lexical.index(HashedEmbedder(), rebuild=True)
    hits = lexical.search("release", mode="semantic", k=1)
    assert "deploy" not in hits[0].content  # word pieces: "release" shares none with "deploy"


async def test_the_packs_config_without_its_model_falls_back_to_full_text_and_says_why(
    hf_cache, tmp_path
):
    auto = ToolCall("search_memory", {"query": "auth bug"})
    semantic = ToolCall("search_memory", {"query": "auth bug", "mode": "semantic"})
    agent = await recorded_agent(pack_memory(), tmp_path / "sessions", ["ok", auto, semantic, "x"])
    warnings_seen = []
    async with agent:
        await agent.run("The auth bug is in login.")
        async for event in agent.run_stream("search"):
            if isinstance(event, AgentWarning):
                warnings_seen.append(event)
    first, second = (await _tool_records(agent))[-2:]
    assert first["status"] == "ok" and "auth bug is in login" in first["output"]
    assert second["status"] == "error"
    assert "memory.embedding.model" in second["error"] and "hf download" in second["error"]
    (warning,) = warnings_seen  # said once, not at every search
    assert warning.source == "search_memory"
    assert "full text only" in warning.message and MULTILINGUAL_BEST in warning.message


async def _tool_records(agent):
    with kt_sessions.SessionReader(agent.session.path) as reader:
        return [e.wire for e in reader.events("tool_call_completed")]


async def test_an_old_provider_name_in_a_config_warns_once_and_works(tmp_path):
    search = ToolCall("search_memory", {"query": "deploy", "mode": "hybrid"})
    agent = await recorded_agent(
        {"embedding": {"provider": "hashing"}}, tmp_path / "sessions", ["ok", search, "done"]
    )
    seen = []
    async with agent:
        await agent.run("We deploy the service tomorrow.")
        async for event in agent.run_stream("search"):
            if isinstance(event, AgentWarning):
                seen.append(event.message)
    assert len(seen) == 1 and "now called 'hashed'" in seen[0]
    with kt_sessions.SessionReader(agent.session.path) as reader:
        assert reader.memory.settings()["provider"] == "hashed"


def test_memory_embedding_settings_are_checked():
    with pytest.raises(MemoryIndexError, match="memory.embedding.dimensions must be a positive"):
        configured_embedder({"embedding": {"provider": "hashed", "dimensions": "big"}})
    with pytest.raises(MemoryIndexError, match="takes only provider, model and dimensions"):
        configured_embedder({"embedding": {"provider": "hashed", "base_url": "http://x"}})
    embedder, note = configured_embedder({})
    assert embedder.provider == "hashed" and note is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the note is returned, not warned
        _, note = configured_embedder({"embedding": {"provider": "hashing"}})
    assert note is not None
    assert json.dumps(PRESETS)  # presets are plain data, shown in docs


# -- kt embedding / kt search -----------------------------------------------------------------------


async def test_kt_embedding_indexes_with_the_creatures_configured_model(
    hf_cache, kt_cmd, isolated_home
):
    agent = await recorded_agent(pack_memory(), isolated_home / "sessions", ["ok", "ok"])
    async with agent:
        await agent.run("We deploy the service tomorrow.")
        await agent.run("Lunch menu on Friday.")
    name = agent.session.path.name.removesuffix(".ktsession")

    missing = kt_cmd("embedding", name)  # the cache is still empty
    assert missing.returncode == 1
    assert "memory.embedding.model" in missing.stderr
    assert f"hf download {MULTILINGUAL_BEST}" in missing.stderr

    tiny.build_in_hf_cache(hf_cache, MULTILINGUAL_BEST, layout="nested")
    built = kt_cmd("embedding", name)
    assert built.returncode == 0, built.stderr
    assert (
        f"Embedding: model2vec ({MULTILINGUAL_BEST}, {tiny.DIM} dimensions); semantic: matches "
        "meaning" in built.stdout
    )
    found = kt_cmd("search", name, "release", "--mode", "semantic", "-k", "1")
    assert found.returncode == 0, found.stderr
    assert "We deploy the service tomorrow." in found.stdout and "lexical" not in found.stderr
