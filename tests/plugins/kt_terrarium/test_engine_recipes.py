"""Recipes: TOML and the kt-biome YAML shape, key-path errors, applying them to an engine."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_engine_support import bare, echo, write

import kt
import kt_terrarium
from kt.testing import ScriptedLLM, ToolCall
from kt_terrarium.recipes import REPORT_CHANNEL, load_recipe

KT_BIOME = Path(__file__).parents[4] / "shared" / "fixtures" / "kt-biome"
needs_kt_biome = pytest.mark.skipif(not KT_BIOME.is_dir(), reason="kt-biome fixture not found")


def resolve_kt_biome(ref: str) -> Path | None:
    prefix = "@kt-biome/"
    return KT_BIOME / ref.removeprefix(prefix) if ref.startswith(prefix) else None


TOML_RECIPE = """
name = "pair"
description = "A writer and an editor"

[root]
system_prompt_file = "prompts/root.md"

[[creatures]]
name = "writer"
system_prompt = "You write."
output_wiring = ["editor", { to = "root", with_content = false }]
channels = { listen = ["notes"], can_send = ["drafts"] }

[[creatures]]
name = "editor"
system_prompt = "You edit."
controller = { temperature = 0.2 }
channels = { listen = ["drafts"] }

[channels]
notes = "Notes for the writer"
drafts = { kind = "queue", description = "Drafts to edit" }
"""


def pair_recipe(tmp_path: Path, text: str = TOML_RECIPE) -> Path:
    write(tmp_path / "pair" / "prompts" / "root.md", "You lead.")
    return write(tmp_path / "pair" / "terrarium.toml", text).parent


def test_a_toml_recipe_loads_with_direct_and_report_channels(tmp_path):
    recipe = load_recipe(pair_recipe(tmp_path))
    assert (recipe.name, recipe.description, recipe.root) == (
        "pair",
        "A writer and an editor",
        "root",
    )
    channels = {c.name: (c.kind, c.description) for c in recipe.channels}
    assert channels == {
        "notes": ("broadcast", "Notes for the writer"),
        "drafts": ("queue", "Drafts to edit"),
        "writer": ("queue", "Direct channel to writer"),
        "editor": ("queue", "Direct channel to editor"),
        "root": ("queue", "Direct channel to root"),
        REPORT_CHANNEL: ("queue", "Any creature can report to the root here"),
    }
    writer, editor, root = recipe.creatures
    assert (writer.listen, writer.can_send) == (("notes",), ("drafts",))
    assert [(w.to, w.with_content) for w in writer.output_wiring] == [
        ("editor", True),
        ("root", False),
    ]
    assert editor.config.controller.temperature == 0.2
    assert root.is_root and root.privileged and root.config.system_prompt == "You lead."
    assert root.config.name == "root"


@needs_kt_biome
def test_the_kt_biome_swe_team_recipe_loads():
    recipe = load_recipe(KT_BIOME / "terrariums" / "swe_team", resolve_ref=resolve_kt_biome)
    assert recipe.name == "swe_team" and recipe.root == "root"
    assert [c.name for c in recipe.creatures] == ["swe", "reviewer", "root"]
    kinds = {c.name: c.kind for c in recipe.channels}
    assert kinds["tasks"] == "queue" and kinds["team_chat"] == "broadcast"
    swe = recipe.creature("swe")
    assert swe.config.controller.reasoning_effort == "xhigh"
    assert swe.listen == ("tasks", "feedback", "team_chat") and swe.can_send == ("team_chat",)
    assert [(w.to, w.with_content) for w in swe.output_wiring] == [
        ("reviewer", True),
        ("root", False),
    ]
    assert "send_message" in [t.name for t in swe.config.tools]  # inherited from general
    root = recipe.creature("root")
    assert not {"terrarium_create", "creature_start"} & {t.name for t in root.config.tools}
    assert any("terrarium_create" in w and "dropped" in w for w in recipe.warnings)


@needs_kt_biome
@pytest.mark.parametrize(
    "name", ["swe_team", "auto_research", "deep_research", "pair_programming", "ralph_loop"]
)
def test_every_kt_biome_recipe_loads(name):
    recipe = load_recipe(KT_BIOME / "terrariums" / name, resolve_ref=resolve_kt_biome)
    assert recipe.creatures


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        ({"nmae": "x"}, "nmae", "unknown key 'nmae' (did you mean 'name'?)"),
        ({"creatures": [{"system_prompt": "x"}]}, "creatures[0].name", "required key 'name'"),
        (
            {"creatures": [{"name": "a"}, {"name": "a"}]},
            "creatures[1].name",
            "two creatures are named 'a'",
        ),
        (
            {"creatures": [{"name": "a", "channels": {"listen": ["taks"]}}]},
            "creatures[0].channels.listen[0]",
            "unknown channel 'taks' (did you mean 'tasks'?)",
        ),
        (
            {"creatures": [{"name": "a", "channels": {"hear": []}}]},
            "creatures[0].channels.hear",
            "unknown key 'hear'",
        ),
        (
            {"creatures": [{"name": "a", "output_wiring": ["b"]}]},
            "creatures[0].output_wiring[0].to",
            "target 'b' is not a creature of this recipe",
        ),
        (
            {"creatures": [{"name": "a", "output_wiring": [{"to": "a", "with_content": "no"}]}]},
            "creatures[0].output_wiring[0].with_content",
            "expected true or false",
        ),
        (
            {"creatures": [{"name": "a", "output_wiring": ["a"]}]},
            "creatures[0].output_wiring[0]",
            "trigger itself",
        ),
        (
            {
                "creatures": [
                    {"name": "a", "output_wiring": ["b"]},
                    {"name": "b", "output_wiring": ["a"]},
                ]
            },
            "creatures[1].output_wiring[0]",
            "closes the loop b -> a -> b",
        ),
        (
            {"channels": {"tasks": {"kind": "fifo"}}},
            "channels.tasks.kind",
            "'queue' or 'broadcast'",
        ),
        ({"channels": {"tasks": 3}}, "channels.tasks", "a channel is a table"),
        (
            {"creatures": [{"name": "a", "controller": {"temperature": -1}}]},
            "creatures[0].controller.temperature",
            "(creature 'a')",
        ),
        ({"creatures": [{"name": "a", "toolz": []}]}, "creatures[0].toolz", "did you mean 'tools'"),
        (
            {"creatures": [{"name": "root"}], "root": {}},
            "creatures[0].name",
            "belongs to the recipe's root",
        ),
    ],
)
def test_recipe_problems_name_the_key_path(change, path, message):
    recipe = {"channels": {"tasks": {}}} | change
    with pytest.raises(kt.ConfigValidationError) as caught:
        load_recipe(recipe)
    assert caught.value.path == path
    assert message in str(caught.value)


def test_a_loop_with_a_hop_limit_is_accepted():
    recipe = load_recipe(
        {
            "creatures": [
                {"name": "a", "output_wiring": ["b"]},
                {"name": "b", "output_wiring": [{"to": "a", "max_hops": 4}]},
            ]
        }
    )
    assert recipe.creature("b").output_wiring[0].max_hops == 4


def test_recipe_files_and_errors_name_the_file(tmp_path):
    folder = pair_recipe(tmp_path, TOML_RECIPE.replace('listen = ["drafts"]', 'listen = ["draft"]'))
    with pytest.raises(kt.ConfigValidationError) as caught:
        load_recipe(folder)
    assert caught.value.file == str(folder.resolve() / "terrarium.toml")
    assert caught.value.path == "creatures[1].channels.listen[0]"
    with pytest.raises(kt.ConfigNotFoundError, match="no recipe in folder"):
        load_recipe(tmp_path)
    with pytest.raises(kt.ConfigNotFoundError, match="cannot resolve @nope/x"):
        load_recipe("@nope/x")


def test_yaml_recipes_with_the_terrarium_key(tmp_path):
    write(
        tmp_path / "t" / "terrarium.yaml",
        """
        terrarium:
          name: yaml_team
          creatures:
            - name: a
              config: ../base
              channels: {listen: [work], can_send: [work]}
          channels:
            work: {type: queue, description: "Work items"}
        """,
    )
    write(tmp_path / "base" / "creature.toml", 'name = "base"\nsystem_prompt = "Base."\n')
    recipe = load_recipe(tmp_path / "t")
    (a,) = recipe.creatures
    assert a.config.system_prompt == "Base." and a.config.name == "a"
    assert recipe.channels[0].kind == "queue"


async def test_applying_a_recipe_builds_starts_and_wires_everything(tmp_path):
    llms = {"writer": echo("writer"), "editor": echo("editor"), "root": echo("root")}
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        applied = await engine.apply_recipe(pair_recipe(tmp_path), llm=llms)
        assert applied.creature_ids == ("writer", "editor", "root")
        assert len(applied.graph_ids) == 1
        assert all(engine[c].is_running for c in applied.creature_ids)
        await engine["writer"].send("drafts", "draft 1")
        await engine.wait_idle()
        assert llms["editor"].calls[0].last_user_text == "[Channel 'drafts' from writer]: draft 1"
        with pytest.raises(kt_terrarium.CreatureExistsError, match="remove them first"):
            await engine.apply_recipe(pair_recipe(tmp_path / "again"), llm=llms)


async def test_a_creature_that_fails_to_build_leaves_the_engine_unchanged():
    recipe = {"creatures": [{"name": "ok"}, {"name": "bad", "tools": ["nope"]}]}
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        with pytest.raises(kt.UnknownNameError) as caught:
            await engine.apply_recipe(recipe, llm=echo("x"))
        assert caught.value.path == "creatures[1].tools[0].name"
        assert "(creature 'bad')" in str(caught.value)
        assert len(engine) == 0 and engine.graphs() == []
        await engine.apply_recipe({"creatures": [{"name": "ok"}]}, llm=echo("x"))


async def test_a_disconnected_recipe_makes_several_graphs():
    recipe = {
        "name": "islands",
        "creatures": [
            {"name": "a", "channels": {"listen": ["x"], "can_send": ["x"]}},
            {"name": "b", "channels": {"listen": ["x"]}},
            {"name": "c"},
        ],
        "channels": {"x": {}},
    }
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        applied = await engine.apply_recipe(recipe, llm=echo("x"))
        assert len(applied.graph_ids) == 2
        groups = sorted(g.creature_ids for g in engine.graphs())
        assert groups == [("a", "b"), ("c",)]
        assert {g.name for g in engine.graphs()} == {"islands"}


async def test_messages_to_creatures_not_started_yet_wait_for_them():
    """A creature can send before its peers have started: nothing is lost."""
    recipe = {
        "creatures": [
            {"name": "early", "channels": {"can_send": ["work"]}},
            {"name": "late", "channels": {"listen": ["work"]}},
        ],
        "channels": {"work": {"kind": "queue"}},
    }
    early = ScriptedLLM([ToolCall("send_message", {"channel": "work", "message": "w"}), "sent"])
    late = echo("late")
    async with kt_terrarium.Terrarium(kernel=bare()) as engine:
        await engine.apply_recipe(recipe, llm={"early": early, "late": late}, start=False)
        await engine.start_creature("early")
        await engine["early"].run("go")
        assert late.call_count == 0 and not engine["late"].is_running
        await engine.start_creature("late")
        await engine.wait_idle()
    assert late.calls[0].last_user_text == "[Channel 'work' from early]: w"
