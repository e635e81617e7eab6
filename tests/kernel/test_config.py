"""Tests for kt.config: lookup, inheritance, interpolation, validation and error paths."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import tomlkit
import yaml
from hypothesis import given
from hypothesis import strategies as st

from kt.config import (
    DEFAULT_SYSTEM_PROMPT,
    CreatureConfig,
    ToolEntry,
    find_config_file,
    load_creature_config,
)
from kt.errors import (
    ConfigError,
    ConfigNotFoundError,
    ConfigValidationError,
    InterpolationError,
)

CONFIGS = Path(__file__).parent / "configs"


def write_config(folder: Path, data: dict[str, Any], fmt: str = "toml") -> Path:
    """Write *data* as the creature config of *folder* in the given format."""
    folder.mkdir(parents=True, exist_ok=True)
    if fmt == "toml":
        path = folder / "creature.toml"
        path.write_text(tomlkit.dumps(data), encoding="utf-8")
    elif fmt == "yaml":
        path = folder / "config.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    else:
        path = folder / "config.json"
        path.write_text(json.dumps(data), encoding="utf-8")
    return path


def load(source: Any, **kwargs: Any) -> CreatureConfig:
    kwargs.setdefault("env", {})
    return load_creature_config(source, **kwargs)


def tool_summary(config: CreatureConfig) -> list[tuple[str, dict[str, Any]]]:
    return [(tool.name, dict(tool.options)) for tool in config.tools]


# -- Scenario 15: inheritance + interpolation ---------------------------------------------------


@pytest.fixture(params=["toml", "yaml"])
def scenario(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    """Base + child of acceptance scenario 15, written in TOML or YAML."""
    fmt = request.param
    base = {
        "name": "b",
        "system_prompt_file": "prompts/base.md",
        "tools": [{"name": "a"}, {"name": "x", "opt": 1}],
        "controller": {"temperature": 0.2, "tool_format": "xml"},
    }
    (tmp_path / "base" / "prompts").mkdir(parents=True)
    (tmp_path / "base" / "prompts" / "base.md").write_text("BASE PROMPT\n")
    write_config(tmp_path / "base", base, fmt)
    child = {
        "base_config": "../base",
        "tools": [{"name": "x", "opt": 2}, {"name": "c"}],
        "controller": {"temperature": "${T:0.9}"},
    }

    def write_child(**changes: Any) -> Path:
        data = {**child, **changes}
        return write_config(tmp_path / "child", data, fmt)

    return {"fmt": fmt, "tmp": tmp_path, "write_child": write_child}


def test_scenario15_identity_lists_merge_by_name_in_base_order(scenario):
    scenario["write_child"]()
    config = load(scenario["tmp"] / "child")
    assert tool_summary(config) == [("a", {}), ("x", {"opt": 2}), ("c", {})]


def test_scenario15_interpolated_temperature_is_coerced_to_float(scenario):
    scenario["write_child"]()
    unset = load(scenario["tmp"] / "child", env={})
    assert unset.controller.temperature == 0.9
    assert isinstance(unset.controller.temperature, float)
    assert load(scenario["tmp"] / "child", env={"T": "0.5"}).controller.temperature == 0.5


def test_scenario15_untouched_controller_keys_are_inherited(scenario):
    scenario["write_child"]()
    config = load(scenario["tmp"] / "child")
    assert config.controller.tool_format == "xml"
    assert config.name == "child"  # a name is not inherited: the folder name is the default
    assert [p.parent.name for p in config.files] == ["base", "child"]


def test_scenario15_no_inherit_drops_base_tools(scenario):
    scenario["write_child"](no_inherit=["tools"])
    config = load(scenario["tmp"] / "child")
    assert tool_summary(config) == [("x", {"opt": 2}), ("c", {})]
    assert config.controller.tool_format == "xml"


def test_scenario15_prompt_chain_concat_and_replace(scenario):
    prompt_dir = scenario["tmp"] / "child" / "prompts"
    prompt_dir.mkdir(parents=True)
    (prompt_dir / "child.md").write_text("CHILD PROMPT\n")

    scenario["write_child"](system_prompt_file="prompts/child.md")
    concat = load(scenario["tmp"] / "child")
    assert concat.system_prompt == "BASE PROMPT\n\nCHILD PROMPT"

    scenario["write_child"](system_prompt_file="prompts/child.md", prompt_mode="replace")
    replaced = load(scenario["tmp"] / "child")
    assert replaced.system_prompt == "CHILD PROMPT"
    assert [p.name for p in replaced.system_prompt_files] == ["child.md"]


def test_scenario15_missing_base_raises_not_found(scenario):
    path = scenario["write_child"](base_config="../nowhere")
    with pytest.raises(ConfigNotFoundError) as caught:
        load(scenario["tmp"] / "child")
    assert caught.value.path == "base_config"
    assert caught.value.file == str(path)
    assert "../nowhere" in str(caught.value)


def test_scenario15_unknown_key_is_named(scenario):
    scenario["write_child"](temprature=0.3)
    with pytest.raises(ConfigValidationError) as caught:
        load(scenario["tmp"] / "child")
    assert caught.value.path == "temprature"
    assert "'temprature'" in str(caught.value)
    assert "did you mean 'temperature'" in str(caught.value)


# -- Lookup -------------------------------------------------------------------------------------


def test_lookup_order_prefers_creature_toml(tmp_path):
    write_config(tmp_path, {"description": "from yaml"}, "yaml")
    assert find_config_file(tmp_path).name == "config.yaml"
    write_config(tmp_path, {"description": "from json"}, "json")
    assert find_config_file(tmp_path).name == "config.yaml"
    write_config(tmp_path, {"description": "from toml"}, "toml")
    assert find_config_file(tmp_path).name == "creature.toml"
    assert load(tmp_path).description == "from toml"


def test_find_config_file_returns_a_file_itself_and_rejects_missing(tmp_path):
    path = write_config(tmp_path / "c", {}, "json")
    assert find_config_file(path) == path
    with pytest.raises(ConfigNotFoundError, match="creature.toml"):
        find_config_file(tmp_path)  # a folder without a config
    with pytest.raises(ConfigNotFoundError, match="does not exist"):
        find_config_file(tmp_path / "missing")


def test_a_file_source_makes_its_folder_the_creature_folder(tmp_path):
    path = write_config(tmp_path / "bot", {"system_prompt_file": "p.md"}, "yaml")
    (tmp_path / "bot" / "p.md").write_text("hi")
    config = load(path)
    assert config.folder == (tmp_path / "bot").resolve()
    assert config.name == "bot"
    assert config.system_prompt == "hi"


def test_defaults_of_an_empty_config(tmp_path):
    write_config(tmp_path / "empty", {})
    config = load(tmp_path / "empty")
    assert config.system_prompt == DEFAULT_SYSTEM_PROMPT
    assert config.max_iterations == 50
    assert config.max_subagent_depth == 3
    assert config.controller.tool_format == "native"
    assert config.controller.tool_timeout == 120.0
    assert config.compact.threshold == 0.8
    assert config.tools == ()
    assert config.input is None and config.output is None


# -- Inheritance details ------------------------------------------------------------------------


def test_null_in_child_means_not_set(tmp_path):
    write_config(tmp_path / "base", {"description": "base", "controller": {"model": "m1"}}, "yaml")
    write_config(
        tmp_path / "child",
        {"base_config": "../base", "description": None, "controller": {"model": None}},
        "yaml",
    )
    config = load(tmp_path / "child")
    assert config.description == "base"
    assert config.controller.model == "m1"


def test_dicts_merge_shallowly_and_other_lists_are_replaced(tmp_path):
    write_config(
        tmp_path / "base",
        {
            "memory": {"embedding": {"provider": "a", "model": "m"}, "keep": True},
            "skills": ["one", "two"],
            "output": {"type": "stdout", "color": False},
        },
    )
    write_config(
        tmp_path / "child",
        {
            "base_config": "../base",
            "memory": {"embedding": {"provider": "b"}},
            "skills": ["three"],
            "output": {"type": "tui"},
        },
    )
    config = load(tmp_path / "child")
    assert config.memory == {"embedding": {"provider": "b"}, "keep": True}
    assert config.skills == ("three",)
    assert config.output.type == "tui"
    assert config.output.options == {"color": False}


def test_unnamed_identity_entries_are_appended(tmp_path):
    write_config(tmp_path / "base", {"triggers": [{"type": "timer", "interval": 5}]})
    write_config(
        tmp_path / "child",
        {"base_config": "../base", "triggers": [{"type": "timer", "interval": 9}]},
    )
    config = load(tmp_path / "child")
    assert [t.options["interval"] for t in config.triggers] == [5, 9]


def test_grandparents_merge_first_and_inheritance_keys_do_not_propagate(tmp_path):
    for name in ("a", "b", "c"):
        (tmp_path / name).mkdir()
        (tmp_path / name / f"{name}.md").write_text(name.upper())
    write_config(tmp_path / "a", {"system_prompt_file": "a.md", "tools": ["t1"]})
    write_config(
        tmp_path / "b",
        {
            "base_config": "../a",
            "prompt_mode": "replace",
            "system_prompt_file": "b.md",
            "tools": ["t2"],
        },
    )
    write_config(tmp_path / "c", {"base_config": "../b", "system_prompt_file": "c.md"})
    config = load(tmp_path / "c")
    # b's replace dropped a's prompt; c does not inherit prompt_mode, so it keeps b's.
    assert config.system_prompt == "B\n\nC"
    assert [t.name for t in config.tools] == ["t1", "t2"]
    assert [p.name for p in config.files] == ["creature.toml"] * 3


def test_no_inherit_accepts_controller_aliases_and_rejects_unknown_keys(tmp_path):
    write_config(tmp_path / "base", {"controller": {"model": "m", "temperature": 0.3}})
    write_config(tmp_path / "child", {"base_config": "../base", "no_inherit": ["temperature"]})
    config = load(tmp_path / "child")
    assert config.controller.model == "m"
    assert config.controller.temperature is None

    write_config(tmp_path / "child", {"base_config": "../base", "no_inherit": ["tool"]})
    with pytest.raises(ConfigValidationError, match="did you mean 'tools'") as caught:
        load(tmp_path / "child")
    assert caught.value.path == "no_inherit[0]"


def test_no_inherit_empty_changes_nothing(tmp_path):
    write_config(tmp_path / "base", {"tools": ["a"]})
    write_config(tmp_path / "child", {"base_config": "../base", "no_inherit": []})
    assert [t.name for t in load(tmp_path / "child").tools] == ["a"]


def test_bare_creatures_path_is_searched_upward(tmp_path):
    write_config(tmp_path / "pack" / "creatures" / "general", {"tools": ["bash"]})
    write_config(
        tmp_path / "pack" / "creatures" / "swe" / "nested",
        {"base_config": "creatures/general"},
    )
    config = load(tmp_path / "pack" / "creatures" / "swe" / "nested")
    assert [t.name for t in config.tools] == ["bash"]


def test_inheritance_cycle_is_detected(tmp_path):
    write_config(tmp_path / "a", {"base_config": "../b"})
    write_config(tmp_path / "b", {"base_config": "../a"})
    with pytest.raises(ConfigError, match="cycle") as caught:
        load(tmp_path / "a")
    assert caught.value.path == "base_config"
    a, b = ((tmp_path / name / "creature.toml").resolve() for name in ("a", "b"))
    assert f"{a} -> {b} -> {a}" in caught.value.message


def test_self_reference_is_a_cycle(tmp_path):
    write_config(tmp_path / "a", {"base_config": "."})
    with pytest.raises(ConfigError, match="cycle"):
        load(tmp_path / "a")


# -- Prompt chain -------------------------------------------------------------------------------


def test_prompt_file_falls_back_to_the_base_folder_and_is_deduplicated(tmp_path):
    (tmp_path / "base" / "prompts").mkdir(parents=True)
    (tmp_path / "base" / "prompts" / "system.md").write_text("SHARED")
    write_config(tmp_path / "base", {"system_prompt_file": "prompts/system.md"})
    write_config(
        tmp_path / "child",
        {
            "base_config": "../base",
            "system_prompt_file": "prompts/system.md",
            "system_prompt": "Inline last.",
        },
    )
    config = load(tmp_path / "child")
    assert config.system_prompt == "SHARED\n\nInline last."
    assert config.system_prompt_files == ((tmp_path / "base/prompts/system.md").resolve(),)


def test_missing_prompt_file_raises_not_found(tmp_path):
    path = write_config(tmp_path / "c", {"system_prompt_file": "prompts/none.md"})
    with pytest.raises(ConfigNotFoundError) as caught:
        load(tmp_path / "c")
    assert caught.value.path == "system_prompt_file"
    assert caught.value.file == str(path)
    assert "prompts/none.md" in str(caught.value)


def test_prompt_context_files_hold_contents(tmp_path):
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "rules.md").write_text("be brief")
    write_config(tmp_path / "c", {"prompt_context_files": {"rules": "rules.md"}})
    # Paths are read into contents, the variables a prompt template uses (kt_prompts).
    assert load(tmp_path / "c").prompt_context_files == {"rules": "be brief"}

    write_config(tmp_path / "c", {"prompt_context_files": {"rules": "gone.md"}})
    with pytest.raises(ConfigNotFoundError) as caught:
        load(tmp_path / "c")
    assert caught.value.path == "prompt_context_files.rules"


# -- Interpolation ------------------------------------------------------------------------------


def test_interpolation_defaults_unset_values_and_escapes(tmp_path):
    write_config(
        tmp_path / "c",
        {
            "description": "${WHO} at ${PLACE:home}, literal $${KEEP}",
            "controller": {"model": "${MODEL}", "base_url": "${URL:http://localhost:8000/v1}"},
        },
    )
    config = load(tmp_path / "c", env={"WHO": "kt"})
    assert config.description == "kt at home, literal ${KEEP}"
    assert config.controller.model == ""
    assert config.controller.base_url == "http://localhost:8000/v1"


@given(
    text=st.text(alphabet=st.characters(blacklist_characters="$"), max_size=30),
    value=st.text(max_size=20),
)
def test_interpolation_substitutes_exactly_the_reference(text, value):
    config = load({"description": f"{text}${{V}}{text}$${{V}}"}, env={"V": value})
    assert config.description == f"{text}{value}{text}${{V}}"


def test_interpolation_does_not_touch_keys(tmp_path):
    write_config(tmp_path / "c", {"memory": {"${K}": "${V}"}})
    assert load(tmp_path / "c", env={"K": "k", "V": "v"}).memory == {"${K}": "v"}


def test_each_file_is_interpolated_before_merging(tmp_path):
    write_config(tmp_path / "base", {"controller": {"reasoning_effort": "${EFFORT:low}"}})
    write_config(tmp_path / "child", {"base_config": "../base"})
    assert load(tmp_path / "child").controller.reasoning_effort == "low"
    assert load(tmp_path / "child", env={"EFFORT": "high"}).controller.reasoning_effort == "high"


def test_environment_is_the_default_source(tmp_path, monkeypatch):
    monkeypatch.setenv("KT_TEST_CONFIG_MODEL", "from-env")
    write_config(tmp_path / "c", {"controller": {"model": "${KT_TEST_CONFIG_MODEL}"}})
    assert load_creature_config(tmp_path / "c").controller.model == "from-env"


@pytest.mark.parametrize(
    "value",
    ["${", "${}", "abc ${MODEL", "${A:${B}}", "${1A}", "${A B}"],
)
def test_malformed_interpolation_names_the_key(tmp_path, value):
    write_config(tmp_path / "c", {"tools": ["a", {"name": "b", "opt": value}]}, "yaml")
    with pytest.raises(InterpolationError) as caught:
        load(tmp_path / "c")
    assert caught.value.path == "tools[1].opt"
    assert "${VAR" in str(caught.value) or "variable name" in str(caught.value)


def test_interpolated_values_are_coerced_by_the_schema(tmp_path):
    write_config(
        tmp_path / "c",
        {
            "max_iterations": "${N:8080}",
            "controller": {"ephemeral": "${EPHEMERAL:true}"},
            "compact": {"threshold": "${TH:0.5}", "target": "0.25"},
        },
    )
    config = load(tmp_path / "c")
    assert config.max_iterations == 8080
    assert config.controller.ephemeral is True
    assert (config.compact.threshold, config.compact.target) == (0.5, 0.25)

    with pytest.raises(ConfigValidationError, match="expected an integer, got 'abc'") as caught:
        load(tmp_path / "c", env={"N": "abc"})
    assert caught.value.path == "max_iterations"


# -- Validation errors --------------------------------------------------------------------------


def test_missing_required_entry_key_reports_its_index(tmp_path):
    path = write_config(tmp_path / "c", {"tools": ["a", {"name": "b"}, {"type": "builtin"}]})
    with pytest.raises(ConfigValidationError) as caught:
        load(tmp_path / "c")
    assert caught.value.path == "tools[2].name"
    assert caught.value.file == str(path)
    assert "required key 'name' is missing" in str(caught.value)


def test_wrong_type_names_the_nested_key(tmp_path):
    write_config(tmp_path / "c", {"controller": {"temperature": "abc"}}, "yaml")
    with pytest.raises(ConfigValidationError) as caught:
        load(tmp_path / "c")
    assert caught.value.path == "controller.temperature"
    assert "expected a number, got 'abc'" in str(caught.value)


@pytest.mark.parametrize(
    ("data", "path", "hint"),
    [
        ({"controller": {"temprature": 1}}, "controller.temprature", "'temperature'"),
        ({"compact": {"treshold": 0.5}}, "compact.treshold", "'threshold'"),
        ({"termination": {"max_turn": 3}}, "termination.max_turn", "'max_turns'"),
        ({"startup_trigger": {"promt": "go"}}, "startup_trigger.promt", "'prompt'"),
        ({"zzzzzz": 1}, "zzzzzz", "accepted keys: base_config, compact, controller,"),
    ],
)
def test_unknown_keys_in_strict_sections(tmp_path, data, path, hint):
    write_config(tmp_path / "c", data)
    with pytest.raises(ConfigValidationError) as caught:
        load(tmp_path / "c")
    assert caught.value.path == path
    assert hint in str(caught.value)


def test_all_problems_are_reported_in_one_error(tmp_path):
    write_config(
        tmp_path / "c",
        {
            "tools": [{"name": "a"}, {"doc": "no name"}],
            "controller": {"temperature": "hot", "max_tokens": "many"},
        },
        "yaml",
    )
    with pytest.raises(ConfigValidationError) as caught:
        load(tmp_path / "c")
    message = str(caught.value)
    assert "3 problems" in message
    for path in ("tools[1].name", "controller.temperature", "controller.max_tokens"):
        assert f"  - {path}: " in message
    assert caught.value.path == "controller.temperature"  # schema order: controller before tools


@pytest.mark.parametrize(
    ("data", "path", "text"),
    [
        ({"compact": {"threshold": 1.5}}, "compact.threshold", "(0, 1]"),
        ({"compact": {"threshold": 0.3}}, "compact.target", "below compact.threshold"),
        ({"max_iterations": 0}, "max_iterations", "at least 1"),
        ({"controller": {"tool_format": " "}}, "controller.tool_format", "must not be empty"),
        ({"skill_mode": "lazy"}, "skill_mode", "'dynamic', 'static'"),
        (
            {"output_wiring": [{"to": "x", "prompt_format": "md"}]},
            "output_wiring[0].prompt_format",
            "'simple', 'jinja'",
        ),
        ({"max_subagent_depth": -1}, "max_subagent_depth", "at least 0"),
        ({"tools": "bash"}, "tools", "expected a list"),
        ({"memory": ["x"]}, "memory", "expected a table"),
        ({"tools": [3]}, "tools[0]", "expected a table"),
        ({"termination": {"keywords": "stop"}}, "termination.keywords", "expected a list"),
        ({"skills": [["nested"]]}, "skills[0]", "expected a string"),
        (
            {"output": {"type": "stdout", "named_outputs": {"side": {"module": "m"}}}},
            "output.named_outputs.side.type",
            "required key 'type'",
        ),
    ],
)
def test_value_checks(tmp_path, data, path, text):
    write_config(tmp_path / "c", data, "yaml")
    with pytest.raises(ConfigValidationError) as caught:
        load(tmp_path / "c")
    assert caught.value.path == path
    assert text in str(caught.value)


def test_yaml_booleans_in_string_fields_get_a_quoting_hint(tmp_path):
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "config.yaml").write_text("controller:\n  reasoning_effort: off\n")
    with pytest.raises(ConfigValidationError, match="quote the value") as caught:
        load(tmp_path / "c")
    assert caught.value.path == "controller.reasoning_effort"


def test_top_level_and_controller_conflict_in_one_file(tmp_path):
    write_config(tmp_path / "c", {"temperature": 0.1, "controller": {"temperature": 0.2}})
    with pytest.raises(ConfigValidationError, match="keep only one") as caught:
        load(tmp_path / "c")
    assert caught.value.path == "temperature"


def test_top_level_controller_keys_across_files_follow_child_wins(tmp_path):
    write_config(tmp_path / "base", {"temperature": 0.1, "model": "m"})
    write_config(tmp_path / "child", {"base_config": "../base", "controller": {"temperature": 0.7}})
    config = load(tmp_path / "child")
    assert (config.controller.temperature, config.controller.model) == (0.7, "m")


def test_prompt_switches_are_accepted_in_controller(tmp_path):
    write_config(tmp_path / "c", {"controller": {"skill_mode": "dynamic"}, "tool_format": "xml"})
    config = load(tmp_path / "c")
    assert config.skill_mode == "dynamic"
    assert config.controller.tool_format == "xml"

    write_config(tmp_path / "c", {"controller": {"skill_mode": "static"}, "skill_mode": "dynamic"})
    with pytest.raises(ConfigValidationError, match="keep only one") as caught:
        load(tmp_path / "c")
    assert caught.value.path == "controller.skill_mode"


def test_yaml_without_pyyaml_names_the_extra(tmp_path, monkeypatch):
    write_config(tmp_path / "c", {"name": "y"}, "yaml")
    monkeypatch.setitem(sys.modules, "yaml", None)  # makes `import yaml` raise ImportError
    with pytest.raises(ConfigError, match=r"pip install 'kt-terrarium\[yaml\]'"):
        load(tmp_path / "c")


def test_invalid_toml_is_a_config_error(tmp_path):
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "creature.toml").write_text("name = \n")
    with pytest.raises(ConfigError, match="invalid TOML") as caught:
        load(tmp_path / "c")
    assert caught.value.file == str(tmp_path / "c" / "creature.toml")


def test_a_non_table_document_is_rejected(tmp_path):
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "config.yaml").write_text("- just\n- a list\n")
    with pytest.raises(ConfigValidationError, match="table of keys"):
        load(tmp_path / "c")


# -- Dict sources and references ----------------------------------------------------------------


def test_dict_source_resolves_paths_against_base_dir(tmp_path):
    write_config(tmp_path / "base", {"tools": ["bash"], "controller": {"model": "m"}})
    (tmp_path / "team" / "prompts").mkdir(parents=True)
    (tmp_path / "team" / "prompts" / "root.md").write_text("ROOT")
    config = load(
        {
            "base_config": "../base",
            "system_prompt_file": "prompts/root.md",
            "tools": [{"name": "grep"}],
            "max_iterations": "${N:7}",
        },
        base_dir=tmp_path / "team",
    )
    assert config.name == "creature"
    assert config.folder == (tmp_path / "team").resolve()
    assert [t.name for t in config.tools] == ["bash", "grep"]
    assert config.system_prompt == "ROOT"
    assert config.max_iterations == 7
    assert [p.parent.name for p in config.files] == ["base"]


def test_dict_source_without_base_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load({"name": "inline", "tools": ("bash", "read")})
    assert config.folder is None
    assert config.files == ()
    assert [t.name for t in config.tools] == ["bash", "read"]


def test_at_reference_with_a_resolver(tmp_path):
    write_config(tmp_path / "pack" / "creatures" / "general", {"tools": ["bash"]}, "yaml")
    seen = []

    def resolve(ref: str) -> Path | None:
        seen.append(ref)
        if ref.startswith("@pack/"):
            return tmp_path / "pack" / ref.removeprefix("@pack/")
        return None

    direct = load("@pack/creatures/general", resolve_ref=resolve)
    assert direct.name == "general"
    write_config(tmp_path / "mine", {"base_config": "@pack/creatures/general", "tools": ["grep"]})
    child = load(tmp_path / "mine", resolve_ref=resolve)
    assert [t.name for t in child.tools] == ["bash", "grep"]
    assert seen == ["@pack/creatures/general", "@pack/creatures/general"]

    write_config(tmp_path / "mine", {"base_config": "@other/creatures/general"})
    with pytest.raises(ConfigNotFoundError, match="kt install other") as caught:
        load(tmp_path / "mine", resolve_ref=resolve)
    assert caught.value.path == "base_config"


def test_at_reference_without_a_resolver():
    with pytest.raises(ConfigNotFoundError, match="no package resolver knows '@kt-biome/x'"):
        load("@kt-biome/x")


# -- Shorthands, aliases, options ---------------------------------------------------------------


def test_bare_string_shorthand_is_uniform(tmp_path):
    write_config(
        tmp_path / "c",
        {
            "tools": ["bash", {"name": "read"}],
            "subagents": ["explore"],
            "plugins": ["budget"],
            "triggers": ["timer"],
            "mcp_servers": ["files"],
            "output_wiring": ["reviewer", {"to": "root", "with_content": False}],
            "input": "cli",
            "output": "stdout",
            "startup_trigger": "Begin.",
        },
        "yaml",
    )
    config = load(tmp_path / "c")
    assert config.tools == (ToolEntry(name="bash"), ToolEntry(name="read"))
    assert config.subagents[0].name == "explore"
    assert (config.plugins[0].name, config.plugins[0].type) == ("budget", "package")
    assert config.triggers[0].type == "timer"
    assert (config.mcp_servers[0].name, config.mcp_servers[0].transport) == ("files", "stdio")
    assert [(w.to, w.with_content) for w in config.output_wiring] == [
        ("reviewer", True),
        ("root", False),
    ]
    assert config.input.type == "cli"
    assert config.output.type == "stdout"
    assert config.startup_trigger.prompt == "Begin."


def test_extra_entry_keys_go_to_options_and_class_is_an_alias(tmp_path):
    write_config(
        tmp_path / "c",
        {
            "tools": [
                {
                    "name": "db",
                    "type": "custom",
                    "module": "acme.db",
                    "class": "DatabaseTool",
                    "path": "x.sqlite",
                    "options": {"readonly": True, "path": "y.sqlite"},
                }
            ],
            "subagents": [{"name": "w", "can_modify": True, "tools": ["read"]}],
            "input": {"type": "cli", "prompt": ">> "},
        },
    )
    config = load(tmp_path / "c")
    tool = config.tools[0]
    assert (tool.module, tool.class_name) == ("acme.db", "DatabaseTool")
    assert tool.options == {"path": "y.sqlite", "readonly": True}
    assert config.subagents[0].options == {"can_modify": True}
    assert config.subagents[0].tools == ("read",)
    assert config.input.options == {"prompt": ">> "}

    write_config(tmp_path / "c", {"plugins": [{"name": "p", "class": "A", "class_name": "B"}]})
    with pytest.raises(ConfigValidationError, match="keep only one") as caught:
        load(tmp_path / "c")
    assert caught.value.path == "plugins[0].class_name"


def test_framework_hints_alias(tmp_path):
    write_config(tmp_path / "c", {"framework_hints": {"framework.output_model": ""}})
    with pytest.raises(ConfigValidationError, match="no framework hint blocks") as caught:
        load(tmp_path / "c")
    assert caught.value.path == "framework_hint_overrides"
    write_config(
        tmp_path / "c",
        {"framework_hints": {"a": "x"}, "framework_hint_overrides": {"a": "y"}},
    )
    with pytest.raises(ConfigValidationError, match="keep only one"):
        load(tmp_path / "c")


def test_zero_tool_timeout_means_no_limit(tmp_path):
    write_config(tmp_path / "c", {"controller": {"tool_timeout": 0}})
    assert load(tmp_path / "c").controller.tool_timeout is None


def test_subagent_config_paths_resolve_against_the_naming_file(tmp_path):
    write_config(tmp_path / "base", {"subagents": [{"name": "w", "config": "agents/w"}]})
    write_config(tmp_path / "child", {"base_config": "../base"})
    config = load(tmp_path / "child")
    assert config.subagents[0].config == str((tmp_path / "base").resolve() / "agents" / "w")


def test_config_is_frozen(tmp_path):
    write_config(tmp_path / "c", {})
    config = load(tmp_path / "c")
    with pytest.raises(AttributeError):
        config.name = "other"


def test_checked_in_example_configs_load():
    config = load(CONFIGS / "child", env={"MODEL": "gpt-test"})
    assert config.name == "example_child"
    assert config.controller.model == "gpt-test"
    assert [t.name for t in config.tools] == ["bash", "read", "grep"]
    assert config.tools[1].options == {"max_lines": 200}
    assert config.system_prompt == "You are the example base.\n\nYou also review code."
