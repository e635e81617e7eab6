"""Settings, the registry, tool names and result mapping: the parts that need no server."""

from __future__ import annotations

import attrs
import mcp.types as types
import pytest

import kt
from kt.config import MCPServerEntry
from kt_mcp.errors import MCPConfigError
from kt_mcp.settings import (
    ServerSettings,
    SettingsProblem,
    load_registry,
    remove_registry_server,
    resolve_servers,
    save_registry_server,
    settings_from_table,
)
from kt_mcp.tools import map_result, native_name

FIELDS = {field.name for field in attrs.fields(MCPServerEntry)}


def entry(name: str, **keys) -> MCPServerEntry:
    """An entry as the config loader builds it: unknown keys go to ``options``."""
    options = {k: keys.pop(k) for k in list(keys) if k not in FIELDS}
    return MCPServerEntry(name=name, **keys, options=options)


def resolve(*entries: MCPServerEntry, **kwargs):
    return resolve_servers(list(entries), **kwargs)


def test_transports_are_normalised_and_a_url_alone_means_http():
    made = resolve(
        entry("a", command="srv"),
        entry("b", transport="streamable-http", url="http://x/mcp"),
        entry("c", url="http://x/mcp"),
        entry("d", transport="sse", url="http://x/sse"),
        env={},
    )
    assert [s.transport for s in made] == ["stdio", "http", "http", "sse"]
    assert made[0].prefix == "a" and made[0].connect_timeout == 30.0


@pytest.mark.parametrize(
    ("keys", "message", "path"),
    [
        ({"transport": "carrier-pigeon", "command": "x"}, "unknown transport", "transport"),
        ({"transport": "sse", "command": "srv"}, "uses sse but has no url", "url"),
        (
            {"transport": "stdio", "url": "", "command": "x", "mode": "fancy"},
            "mode must be",
            "mode",
        ),
        ({"command": "x", "connect_timeout": "soon"}, "must be a number", "connect_timeout"),
        ({"command": "x", "call_timeout": -1}, "must not be negative", "call_timeout"),
        (
            {"command": "x", "conect_timeout": 3},
            "did you mean 'connect_timeout'?",
            "conect_timeout",
        ),
        ({"command": "x", "tools": "echo"}, "list of the server's tool names", "tools"),
    ],
)
def test_bad_settings_are_problems_naming_the_key(keys, message, path):
    (problem,) = resolve(entry("s", **keys), env={}, file="creature.toml")
    assert isinstance(problem, SettingsProblem) and problem.name == "s"
    assert message in str(problem.error)
    assert problem.error.path == f"mcp_servers[0].{path}"
    assert problem.error.file == "creature.toml"


def test_an_entry_without_command_or_url_comes_from_the_registry(kt_home):
    (kt_home / "mcp.toml").write_text(
        "[servers.docs]\n"
        'url = "https://${DOCS_HOST:docs.example}/mcp"\n'
        'headers = { Authorization = "Bearer ${DOCS_TOKEN}", X-Team = "a" }\n'
        "call_timeout = 5\n"
    )
    env = {"DOCS_TOKEN": "t0k", "KT_HOME": str(kt_home)}
    (docs,) = resolve(entry("docs", headers={"X-Team": "b"}, mode="meta"), env=env)
    assert docs.transport == "http" and docs.url == "https://docs.example/mcp"
    assert docs.headers == {"Authorization": "Bearer t0k", "X-Team": "b"}
    assert (docs.call_timeout, docs.mode, docs.origin) == (5.0, "meta", "creature+registry")


def test_an_unknown_registry_name_says_how_to_add_it(kt_home):
    (problem,) = resolve(entry("ghost"), env={"KT_HOME": str(kt_home)})
    assert "kt mcp add ghost -- COMMAND" in str(problem.error)


def test_disabled_entries_are_left_out_and_cwd_defaults_to_the_working_dir(tmp_path):
    made = resolve(
        entry("off", command="x", enabled=False),
        entry("on", command="x"),
        entry("rel", command="x", cwd="sub"),
        env={},
        working_dir=tmp_path,
    )
    assert [s.name for s in made] == ["on", "rel"]
    assert made[0].cwd == str(tmp_path) and made[1].cwd == str(tmp_path / "sub")


def test_registry_add_keeps_comments_and_refuses_duplicates(kt_home):
    path = kt_home / "mcp.toml"
    path.write_text("# my servers\n")
    save_registry_server("time", {"command": "mcp-server-time", "args": ("--x",)})
    assert path.read_text().startswith("# my servers")
    with pytest.raises(MCPConfigError, match="already in the registry"):
        save_registry_server("time", {"command": "other"})
    save_registry_server("time", {"command": "other"}, replace=True)
    assert load_registry()["time"] == {"command": "other"}
    with pytest.raises(MCPConfigError, match="has no command"):
        save_registry_server("bad", {"transport": "stdio"})
    assert remove_registry_server("time") and not remove_registry_server("time")


def test_a_broken_registry_file_is_a_config_error(kt_home):
    (kt_home / "mcp.toml").write_text("[servers\n")
    with pytest.raises(MCPConfigError, match="not valid TOML") as caught:
        load_registry()
    assert isinstance(caught.value, kt.ConfigError)


def test_settings_describe_their_target():
    stdio = settings_from_table("s", {"command": "srv", "args": "--a b"})
    assert stdio.args == ("--a", "b") and stdio.target == "srv --a b"
    assert ServerSettings(name="w", transport="http", url="http://h/mcp").target == "http://h/mcp"


def test_native_names_are_safe_short_and_unique():
    assert native_name("time", "convert_time") == "time__convert_time"
    assert native_name("my server", "get.thing") == "my_server__get_thing"
    assert native_name("", "echo") == "echo"
    assert native_name("toy", "echo", taken={"toy__echo", "toy__echo_2"}) == "toy__echo_3"
    long = native_name("server", "x" * 100)
    assert len(long) == 64 and long.startswith("server__xxx")
    assert native_name("server", "x" * 100, taken={long}) != long


def _result(*content, structured=None, is_error=False):
    return types.CallToolResult(
        content=list(content), structured_content=structured, is_error=is_error
    )


def test_results_map_text_images_resources_and_structured_content():
    text = types.TextContent(type="text", text="hello")
    image = types.ImageContent(type="image", data="aGk=", mime_type="image/png")
    embedded = types.EmbeddedResource(
        type="resource",
        resource=types.TextResourceContents(uri="file:///a.txt", text="inside"),
    )
    blob = types.EmbeddedResource(
        type="resource",
        resource=types.BlobResourceContents(uri="file:///b.bin", blob="aGVsbG8=", mime_type="x/y"),
    )
    link = types.ResourceLink(type="resource_link", name="c", uri="file:///c", description="C")
    mapped = map_result(_result(text, embedded, blob, link), server="s", tool="t")
    assert mapped.ok
    assert mapped.output == (
        "hello\n[resource file:///a.txt]\ninside\n[resource file:///b.bin: x/y, 5 bytes]\n"
        "[resource link c: file:///c - C]"
    )
    assert mapped.metadata == {"mcp_server": "s", "mcp_tool": "t"}

    with_image = map_result(_result(text, image), server="s", tool="t")
    assert [p.type for p in with_image.output] == ["text", "image_url"]
    assert with_image.output[1].image_url == "data:image/png;base64,aGk="

    structured = map_result(_result(structured={"a": 1}), server="s", tool="t")
    assert structured.output == '{\n  "a": 1\n}' and structured.metadata["structured_content"] == {
        "a": 1
    }
    assert map_result(_result(), server="s", tool="t").output == "(no output)"


def test_an_is_error_result_becomes_the_error():
    failed = map_result(
        _result(types.TextContent(type="text", text="disk full"), is_error=True),
        server="s",
        tool="t",
    )
    assert failed.error == "disk full" and not failed.ok
    silent = map_result(_result(is_error=True), server="s", tool="t")
    assert silent.error == "MCP server 's' reported an error from 't' with no details"


def test_the_plugin_entry_module_stays_light():
    import subprocess
    import sys

    code = "import sys, kt_mcp; print(sorted({'mcp', 'trio', 'click'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_hook_implementations_match_the_specs():
    import kt_mcp
    from kt.plugins import new_plugin_manager
    from kt_cli.plugin import add_cli_hookspecs
    from kt_web import hookspecs as web_hookspecs

    pm = new_plugin_manager()
    add_cli_hookspecs(pm)  # kt_cli_commands is declared by kt_cli
    pm.add_hookspecs(web_hookspecs)  # kt_web_routes by kt_web
    pm.register(kt_mcp, name="kt_mcp")
    pm.check_pending()  # no typo among kt_mcp's hook names
    assert [impl.plugin_name for impl in pm.hook.kt_creature_started.get_hookimpls()] == ["kt_mcp"]
