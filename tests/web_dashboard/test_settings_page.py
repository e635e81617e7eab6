"""The settings page in a real browser: model profiles, MCP servers and packs, added and removed."""

from __future__ import annotations

from browsing import by_label, find, find_all, screenshot, wait_for
from kt_web_helpers import write


def fill(browser, values: dict[str, str]) -> None:
    for label, value in values.items():
        control = by_label(browser, label)
        control.clear()
        control.send_keys(value)


def test_profiles_mcp_servers_and_packs(browser, server, tmp_path):
    browser.get(server.url + "/settings")
    fill(
        browser,
        {
            "Profile name": "lab",
            "Base URL": "http://127.0.0.1:9/v1",
            "Profile model": "qwen3-coder",
            "Key variable": "LAB_API_KEY",
        },
    )
    by_label(browser, "Save profile").click()
    row = wait_for(browser, lambda b: find_all(b, 'tr[data-profile="lab"]'), "no profile row")[0]
    assert "qwen3-coder" in row.text and "LAB_API_KEY" in row.text
    (profile,) = server.client.get("/api/settings/profiles").json()["profiles"]
    assert (profile["name"], profile["base_url"], profile["backend"]) == (
        "lab",
        "http://127.0.0.1:9/v1",
        "openai",
    )

    fill(
        browser,
        {"Server name": "files", "Command": "python", "Arguments": "-m\nfiles_server\n--root=/tmp"},
    )
    by_label(browser, "Add MCP server").click()
    row = wait_for(browser, lambda b: find_all(b, 'tr[data-server="files"]'), "no server row")[0]
    assert "python -m files_server --root=/tmp" in row.text
    (mcp,) = server.client.get("/api/settings/mcp").json()["servers"]
    assert mcp["settings"]["args"] == ["-m", "files_server", "--root=/tmp"]
    fill(browser, {"Server name": "files", "Command": "other"})
    by_label(browser, "Add MCP server").click()  # the name is taken: the error says so
    wait_for(browser, lambda b: "already in the registry" in find(b, "#status").text)
    by_label(browser, "Test MCP server files").click()  # no such module: the row says why
    result = 'tr[data-server="files"] output.mcp-result'
    wait_for(browser, lambda b: find(b, result).text.startswith("Failed: "), "no failure shown")
    server.client.post(  # a real server from PyPI (the dev extra installs it)
        "/api/settings/mcp",
        json={
            "name": "time",
            "settings": {"command": "mcp-server-time", "args": ["--local-timezone", "UTC"]},
        },
    ).raise_for_status()
    browser.refresh()
    by_label(browser, "Test MCP server time").click()
    shown = wait_for(
        browser,
        lambda b: (
            "Connected:" in find(b, 'tr[data-server="time"] output.mcp-result').text
            and find(b, 'tr[data-server="time"] output.mcp-result').text
        ),
        "the time server did not connect",
    )
    assert "get_current_time" in shown
    server.client.delete("/api/settings/mcp/time").raise_for_status()

    pack = tmp_path / "tiny-pack"
    write(
        pack / "kt-pack.toml",
        '[pack]\nname = "tiny"\nversion = "0.2.0"\n'
        'description = "A tiny pack"\n\n[[creatures]]\nname = "scout"\n',
    )
    write(
        pack / "creatures" / "scout" / "creature.toml", 'name = "scout"\nsystem_prompt = "Scout."\n'
    )
    fill(browser, {"Pack source": str(pack)})
    by_label(browser, "Install pack").click()
    card = wait_for(browser, lambda b: find_all(b, '#packs [data-pack="tiny"]'), "not installed")[0]
    assert "0.2.0" in card.text and "1 creatures" in card.text
    screenshot(browser, tmp_path, "settings-filled")
    browser.get(server.url + "/")  # its creature is offered on the home page
    assert find_all(browser, '#installed-configs option[value="@tiny/creatures/scout"]')

    browser.get(server.url + "/settings")
    for name in ("Delete profile lab", "Remove MCP server files", "Uninstall tiny"):
        by_label(browser, name).click()
        wait_for(
            browser,
            lambda b, n=name: not [x for x in find_all(b, "button") if x.accessible_name == n],
        )
    assert server.client.get("/api/settings/profiles").json()["profiles"] == []
    assert server.client.get("/api/settings/mcp").json()["servers"] == []
    assert server.client.get("/api/catalog/packages").json()["packages"] == []
