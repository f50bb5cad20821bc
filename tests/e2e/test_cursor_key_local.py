"""The local server keys its list_keys cursors with a random key kept in its state folder (SQLITE_PATH's):
nobody can mint one from a public constant, and cursors survive a restart."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import httpx

from agent_datastore.core import cursor
from agent_datastore.core.records import Scope
from tests.support.server import RunningServer, running_server

PUBLIC_CONSTANT = b"agent-datastore-cursor-v1"  # the fallback key before: anyone could mint with it


def page(server: RunningServer, user: str, **body: object) -> httpx.Response:
    return httpx.post(f"{server.url}/v1/list_keys", json=body, headers={"X-User-Id": user}, timeout=10)


def test_cursors_are_keyed_by_a_file_in_the_state_folder(tmp_path: Path, user_id: str) -> None:
    env = {"DATASTORE_AUTH": "none", "SQLITE_PATH": str(tmp_path / "store.sqlite3")}
    forged = cursor.encode(PUBLIC_CONSTANT, Scope(user_id, "default"), "a")
    with running_server(env=env) as server:
        for key in ("a", "b", "c"):
            httpx.post(f"{server.url}/v1/set", json={"key": key, "value": 1}, headers={"X-User-Id": user_id})
        first = page(server, user_id, limit=1).json()
        assert first["keys"] == ["a"] and first["next_cursor"]
        refused = page(server, user_id, cursor=forged)
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid_cursor"
    key_file = tmp_path / "cursor.key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert len(key_file.read_bytes().strip()) >= 43  # 32 random bytes, base64
    with running_server(env=env) as restarted:  # the same database: the same key
        assert page(restarted, user_id, cursor=first["next_cursor"]).json()["keys"] == ["b", "c"]
    other = {"DATASTORE_AUTH": "none", "SQLITE_PATH": str(tmp_path / "other" / "store.sqlite3")}
    with running_server(env=other) as elsewhere:  # another database: another key
        assert page(elsewhere, user_id, cursor=first["next_cursor"]).json()["error"]["code"] == "invalid_cursor"
    assert (tmp_path / "other" / "cursor.key").read_bytes() != key_file.read_bytes()


def test_a_configured_secret_wins_over_the_file(tmp_path: Path, user_id: str) -> None:
    env = {"DATASTORE_AUTH": "none", "SQLITE_PATH": str(tmp_path / "s.sqlite3"), "DATASTORE_CURSOR_SECRET": "c" * 40}
    with running_server(env=env) as server:
        httpx.post(f"{server.url}/v1/set", json={"key": "a", "value": 1}, headers={"X-User-Id": user_id})
        httpx.post(f"{server.url}/v1/set", json={"key": "b", "value": 1}, headers={"X-User-Id": user_id})
        assert page(server, user_id, limit=1).json()["next_cursor"]
    assert not (tmp_path / "cursor.key").exists()
