"""list_keys cursors on Google Cloud: a random secret Terraform makes, kept in Secret Manager and
handed to the list_keys functions only; without any secret, the functions refuse to page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent_datastore.core import cursor
from agent_datastore.core.records import Scope

from .conftest import MAIN
from .test_infra import INFRA, functions_locals, of_kind, resources, terraform_console, unquote

PUBLIC_CONSTANT = b"agent-datastore-cursor-v1"  # the fallback key before: anyone could mint with it
USERINFO = "eyJzdWIiOiAiY3Vyc29yLXVzZXIifQ"  # base64url of {"sub": "cursor-user"}, as the gateway passes it


def test_terraform_makes_a_random_secret_in_secret_manager() -> None:
    (password,) = of_kind("random_password").values()
    assert password["length"] >= 32
    secret = of_kind("google_secret_manager_secret")["cursor_secret"]
    assert "replication" in secret
    version = of_kind("google_secret_manager_secret_version")["cursor_secret"]
    assert version["secret_data"] == "${random_password.cursor_secret.result}"
    member = of_kind("google_secret_manager_secret_iam_member")["cursor_secret"]
    assert member["for_each"] == "${local.cursor_readers}"
    assert unquote(member["role"]) == "roles/secretmanager.secretAccessor"
    text = "".join(path.read_text() for path in sorted(INFRA.glob("*.tf")))
    assert '"secretmanager.googleapis.com"' in text and "hashicorp/random" in text


def test_the_list_keys_functions_get_it_as_an_environment_variable() -> None:
    (function,) = of_kind("google_cloudfunctions2_function").values()
    (service,) = function["service_config"]
    blocks = [
        body
        for block in service["dynamic"]
        for name, body in block.items()
        if unquote(name) == "secret_environment_variables"
    ]
    cursor_blocks = [b for b in blocks if "DATASTORE_CURSOR_SECRET" in str(b["content"])]
    (block,) = cursor_blocks
    assert "list_keys" in block["for_each"]
    (content,) = block["content"]
    assert unquote(content["key"]) == "DATASTORE_CURSOR_SECRET"
    assert "google_secret_manager_secret_version.cursor_secret.version" in content["version"]
    assert "google_secret_manager_secret_iam_member.cursor_secret" in str(function["depends_on"])


@pytest.mark.parametrize("variables", [["token_secret_id=s"], []], ids=["sandbox", "api-only"])
def test_only_the_list_keys_functions_may_read_it(variables: list[str]) -> None:
    files = {"variables.tf": (INFRA / "variables.tf").read_text(), "locals.tf": functions_locals()}
    readers = terraform_console("local.cursor_readers", files, "project_id=proj", *variables)
    assert readers and {spec["operation"] for spec in readers.values()} == {"list_keys"}
    every = terraform_console("local.functions", files, "project_id=proj", *variables)
    assert set(readers) == {key for key, spec in every.items() if spec["operation"] == "list_keys"}
    assert resources()  # parsed


@pytest.fixture
def list_keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    import functions_framework

    monkeypatch.setenv("STORE_BACKEND", "sqlite")
    monkeypatch.setenv("SQLITE_PATH", str(tmp_path / "store.sqlite3"))
    monkeypatch.setenv("DATASTORE_AUTH", "gateway")
    for name in ("DATASTORE_TOKEN_SECRET", "DATASTORE_TOKEN_SECRETS", "DATASTORE_CURSOR_SECRET"):
        monkeypatch.delenv(name, raising=False)

    def call(body: dict[str, Any], *, env: dict[str, str] | None = None) -> Any:
        for name, value in (env or {}).items():
            monkeypatch.setenv(name, value)
        headers = {"X-Apigateway-Api-Userinfo": USERINFO}
        setter = functions_framework.create_app(target="set_many", source=str(MAIN)).test_client()
        setter.post("/", json={"items": {"a": 1, "b": 2, "c": 3}}, headers=headers)
        app = functions_framework.create_app(target="list_keys", source=str(MAIN)).test_client()
        return app.post("/", json=body, headers=headers)

    return call


def test_without_a_secret_the_functions_refuse_to_page(list_keys: Any) -> None:
    assert list_keys({}).get_json() == {"keys": ["a", "b", "c"], "next_cursor": None}
    forged = cursor.encode(PUBLIC_CONSTANT, Scope("cursor-user", "default"), "a")
    for body in ({"limit": 1}, {"cursor": forged}):
        answer = list_keys(body)
        assert answer.status_code == 503 and answer.get_json()["error"]["code"] == "backend_unavailable"


def test_with_the_secret_cursors_work_and_forged_ones_do_not(list_keys: Any) -> None:
    env = {"DATASTORE_CURSOR_SECRET": "s" * 64}
    page = list_keys({"limit": 1}, env=env).get_json()
    assert page["keys"] == ["a"]
    assert list_keys({"cursor": page["next_cursor"]}, env=env).get_json()["keys"] == ["b", "c"]
    forged = cursor.encode(PUBLIC_CONSTANT, Scope("cursor-user", "default"), "a")
    answer = list_keys({"cursor": forged}, env=env)
    assert answer.status_code == 400 and answer.get_json()["error"]["code"] == "invalid_cursor"
