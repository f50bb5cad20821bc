"""list_keys cursors on AWS are keyed by a secret the stack makes (Secrets Manager), shared by every
instance of the function and known to no one outside; without any secret, paging is refused."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from agent_datastore.core import cursor
from agent_datastore.core.records import Scope
from agent_datastore.stores.dynamodb.schema import load_template

from .iam import TEMPLATE, authorizer_function, functions, statements
from .test_handlers import context, load_app

PUBLIC_CONSTANT = b"agent-datastore-cursor-v1"  # the fallback key before: anyone could mint with it


def list_keys_function() -> dict[str, Any]:
    (found,) = [f for f in functions().values() if f["Properties"]["CodeUri"] == "functions/aws/list_keys/"]
    return found


def test_the_stack_makes_a_random_cursor_secret() -> None:
    resources = load_template(TEMPLATE)["Resources"]
    secret = resources["CursorSecret"]
    assert secret["Type"] == "AWS::SecretsManager::Secret"
    generated = secret["Properties"]["GenerateSecretString"]
    assert generated["PasswordLength"] >= 32 and "SecretString" not in secret["Properties"]


def test_only_list_keys_reads_it() -> None:
    function = list_keys_function()
    assert function["Properties"]["Environment"]["Variables"]["DATASTORE_CURSOR_SECRET_ARN"] == {"Ref": "CursorSecret"}
    allowed = {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": {"Ref": "CursorSecret"}}
    assert allowed in statements(function)
    for other in [*functions().values(), authorizer_function()]:
        if other is not function and other["Properties"]["CodeUri"] != "functions/aws/list_keys/":
            assert "CursorSecret" not in json.dumps(other), other["Properties"]["CodeUri"]


def direct(user: str, **body: Any) -> dict[str, Any]:
    return {"identity": {"userId": user, "agentName": "indexer"}, "namespace": "notes", **body}


def fill(env: dict[str, str], monkeypatch: pytest.MonkeyPatch, user: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    put = load_app("set_many").handler
    assert put(direct(user, items={"a": 1, "b": 2, "c": 3}), context("set_many"))["statusCode"] == 200


@pytest.fixture
def lambda_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """The functions' configuration as the template gives it, minus any secret, on SQLite."""
    for name in (
        "DATASTORE_TOKEN_SECRET",
        "DATASTORE_TOKEN_SECRETS",
        "DATASTORE_TOKEN_SECRET_ARN",
        "DATASTORE_CURSOR_SECRET",
    ):
        monkeypatch.delenv(name, raising=False)
    return {
        "STORE_BACKEND": "sqlite",
        "SQLITE_PATH": str(tmp_path / "store.sqlite3"),
        "DATASTORE_AUTH": "gateway",
        "POWERTOOLS_TRACE_DISABLED": "1",
    }


def test_without_any_secret_paging_is_refused_not_keyed_by_a_constant(
    lambda_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, user_id: str
) -> None:
    fill(lambda_env, monkeypatch, user_id)
    handler = load_app("list_keys").handler
    # One page that holds everything needs no cursor: still answered.
    assert handler(direct(user_id), context("list_keys"))["body"] == {"keys": ["a", "b", "c"], "next_cursor": None}
    for body in ({"limit": 1}, {"cursor": cursor.encode(PUBLIC_CONSTANT, Scope(user_id, "notes"), "a")}):
        result = handler(direct(user_id, **body), context("list_keys"))
        assert result["statusCode"] == 503, result
        assert result["body"]["error"]["code"] == "backend_unavailable"
        assert "cursor" in result["body"]["error"]["message"]


def test_a_token_secret_keys_cursors_when_there_is_no_cursor_secret(
    lambda_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, user_id: str
) -> None:
    fill({**lambda_env, "DATASTORE_TOKEN_SECRET": "t" * 40}, monkeypatch, user_id)
    first, second = load_app("list_keys").handler, load_app("list_keys").handler  # two instances
    page = first(direct(user_id, limit=1), context("list_keys"))["body"]
    assert second(direct(user_id, cursor=page["next_cursor"]), context("list_keys"))["body"]["keys"] == ["b", "c"]
    # Derived from the token secret, not the token secret itself: a cursor MAC is not a token signature.
    raw = cursor.encode(b"t" * 40, Scope(user_id, "notes"), "a")
    assert second(direct(user_id, cursor=raw), context("list_keys"))["statusCode"] == 400


def test_the_cursor_secret_comes_from_secrets_manager(
    table: str, lambda_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, user_id: str
) -> None:
    import os

    import boto3

    endpoint = os.environ["AWS_ENDPOINT_URL_DYNAMODB"]  # the local moto server speaks Secrets Manager too
    client = boto3.client("secretsmanager", endpoint_url=endpoint, region_name="us-east-1")
    value = client.get_random_password(PasswordLength=64, ExcludePunctuation=True)["RandomPassword"]
    arn = client.create_secret(Name=f"cursor-{uuid.uuid4().hex[:8]}", SecretString=value)["ARN"]
    env = {**lambda_env, "DATASTORE_CURSOR_SECRET_ARN": arn, "AWS_ENDPOINT_URL_SECRETS_MANAGER": endpoint}
    fill(env, monkeypatch, user_id)
    first, second = load_app("list_keys").handler, load_app("list_keys").handler  # two instances
    page = first(direct(user_id, limit=1), context("list_keys"))["body"]
    assert page["keys"] == ["a"] and page["next_cursor"]
    assert second(direct(user_id, cursor=page["next_cursor"]), context("list_keys"))["body"]["keys"] == ["b", "c"]
    scope = Scope(user_id, "notes")
    assert page["next_cursor"] == cursor.encode(value.encode(), scope, "a")  # keyed by that secret
    for key in (PUBLIC_CONSTANT, b"some-other-key"):
        forged = second(direct(user_id, cursor=cursor.encode(key, scope, "a")), context("list_keys"))
        assert forged["statusCode"] == 400 and forged["body"]["error"]["code"] == "invalid_cursor"
