"""`kt marketplace add|remove|list|refresh|info` and `kt install @NAME` through the sources.

The sources are real: an index served over HTTP by a local server, and a git repository (git
runs as a subprocess) holding `marketplace.toml`; the pack installed is a git repository too.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
from kt_cli_helpers import kt_env, run_kt, write

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.org",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.org",
}


def git_repository(folder):
    env = {**os.environ, **GIT_ENV}
    for args in (["init", "--quiet"], ["add", "."], ["commit", "--quiet", "-m", "index"]):
        subprocess.run(["git", "-C", str(folder), *args], check=True, env=env)
    return folder


def pack_repository(folder, name):
    write(folder / "kt-pack.toml", f'[pack]\nname = "{name}"\nversion = "1.2.0"\n')
    write(folder / "creatures" / "hello" / "creature.toml", 'name = "hello"\n')
    return git_repository(folder)


class IndexServer:
    """A local HTTP server for a folder of index files."""

    def __init__(self, folder):
        handler = functools.partial(QuietHandler, directory=str(folder))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def env(isolated_kt):
    return kt_env(isolated_kt, plugins="kt_packages")


def test_sources_from_a_url_and_a_git_repository_are_searched_and_installed_from(
    tmp_path, env, isolated_kt
):
    teamkit = pack_repository(tmp_path / "teamkit.git", "teamkit")
    write(
        tmp_path / "web" / "index.toml",
        """
        [[packs]]
        name = "acme"
        version = "0.3.0"
        description = "Support creatures for Acme"
        source = "https://example.org/acme/kt-acme.git"
        tags = ["support", "tickets"]
        """,
    )
    write(
        tmp_path / "team" / "marketplace.toml",
        f'[[packs]]\nname = "teamkit"\nsource = "{teamkit}"\ndescription = "The team kit"\n',
    )
    git_repository(tmp_path / "team")
    server = IndexServer(tmp_path / "web")
    try:
        added = run_kt(["marketplace", "add", "web", f"{server.url}/index.toml"], env=env)
        assert added.returncode == 0, added.stderr
        assert added.stdout == "Added marketplace source web (http): 1 packs.\n"
        added = run_kt(["marketplace", "add", "team", tmp_path / "team"], env=env)
        assert added.stdout == "Added marketplace source team (git): 1 packs.\n", added.stderr

        listed = run_kt(["marketplace", "list"], env=env).stdout.splitlines()
        assert listed[0].startswith("bundled      1 packs")
        assert (
            listed[1] == f"web          1 packs  {server.url}/index.toml  (http, fetched just now)"
        )
        assert (
            listed[2].startswith("team         1 packs") and "(git, fetched just now)" in listed[2]
        )
        assert listed[3].startswith("yours        absent")

        found = run_kt(["marketplace", "search", "support"], env=env).stdout
        assert "acme 0.3.0" in found and "kt install @acme" in found
        info = run_kt(["marketplace", "info", "acme"], env=env).stdout
        assert f"index        source web ({server.url}/index.toml)" in info
        assert "installed    no; kt install @acme" in info

        installed = run_kt(["install", "@teamkit"], env=env)
        assert installed.returncode == 0, installed.stderr
        assert (isolated_kt / "packages" / "teamkit" / "kt-pack.toml").is_file()
        info = run_kt(["marketplace", "info", "@teamkit"], env=env).stdout
        assert "installed    yes" in info and "index        source team" in info
    finally:
        server.stop()

    # the server is gone: the refresh fails, the cached copy stays usable
    refreshed = run_kt(["marketplace", "refresh"], env=env)
    assert refreshed.returncode == 1
    assert "kt: warning: web: cannot fetch the index" in refreshed.stderr
    assert "kept the copy fetched just now" in refreshed.stderr
    assert "team: 1 packs" in refreshed.stdout
    assert "kt: error: could not refresh web; see above" in refreshed.stderr
    assert "acme 0.3.0" in run_kt(["marketplace", "search", "acme"], env=env).stdout

    removed = run_kt(["marketplace", "remove", "web"], env=env)
    assert removed.stdout == f"Removed marketplace source web ({server.url}/index.toml).\n"
    gone = run_kt(["marketplace", "info", "acme"], env=env)
    assert gone.returncode == 1 and gone.stderr.startswith("kt: error: no pack 'acme'")
    assert not (isolated_kt / "cache" / "marketplace" / "web.toml").exists()


def test_a_source_that_cannot_be_fetched_or_read_is_not_added(tmp_path, env, isolated_kt):
    write(tmp_path / "web" / "broken.toml", "[[packs]]\nname = 'no source'\n")
    write(tmp_path / "empty" / "README.md", "no index here\n")
    git_repository(tmp_path / "empty")
    server = IndexServer(tmp_path / "web")
    try:
        missing = run_kt(["marketplace", "add", "web", f"{server.url}/nosuch.toml"], env=env)
        assert missing.returncode == 1
        assert (
            "kt: error: cannot fetch the index" in missing.stderr and "HTTP 404" in missing.stderr
        )
        broken = run_kt(["marketplace", "add", "web", f"{server.url}/broken.toml"], env=env)
        assert broken.returncode == 2  # an invalid index is a configuration error
        assert "each [[packs]] entry needs a name and a source" in broken.stderr
    finally:
        server.stop()
    no_index = run_kt(["marketplace", "add", "empty", tmp_path / "empty"], env=env)
    assert "has no marketplace.toml at its top" in no_index.stderr
    bad_name = run_kt(["marketplace", "add", "../x", tmp_path / "empty"], env=env)
    assert "'../x' is not a valid source name" in bad_name.stderr
    assert not (isolated_kt / "marketplaces.toml").exists()
    unknown = run_kt(["marketplace", "remove", "web"], env=env)
    assert unknown.returncode == 1
    assert "no marketplace source 'web' (sources: none yet)" in unknown.stderr
