"""The real functions/aws/*/app.py handlers, driven by the events/ files, on the local DynamoDB server."""

from __future__ import annotations

import copy
import importlib.util
import io
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from agent_datastore.api.app import Api
from agent_datastore.core.settings import Settings
from agent_datastore.edges.aws.handler import make_handler
from agent_datastore.stores.memory import MemoryStore

from .conftest import Calls
from .iam import NEEDS, iam_actions

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events" / "aws"
ORDER = ["set", "get", "increment", "set_many", "get_many", "list_keys", "list_namespaces", "stats", "delete", "clear"]
BAD = {
    "get_missing_key": ("get", 400, "invalid_request"),
    "set_invalid_json": ("set", 400, "invalid_json"),
    "set_identity_in_body": ("set", 400, "invalid_request"),
    "get_wrong_method": ("get", 405, "method_not_allowed"),
    "get_bad_base64": ("get", 400, "invalid_json"),
    "delete_no_credentials": ("delete", 401, "unauthorized"),
    "set_bad_ttl": ("set", 400, "invalid_request"),
    "get_many_too_many_keys": ("get_many", 400, "too_many_keys"),
    "direct_get_no_identity": ("get", 401, "unauthorized"),
    "direct_set_empty_key": ("set", 400, "invalid_key"),
}


def load_app(operation: str):
    path = ROOT / "functions" / "aws" / operation / "app.py"
    spec = importlib.util.spec_from_file_location(f"aws_app_{operation}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def apps(table, monkeypatch):
    """Fresh app modules configured only through the environment, as in Lambda."""
    monkeypatch.setenv("STORE_BACKEND", "dynamodb")
    monkeypatch.setenv("DYNAMODB_TABLE", table)
    monkeypatch.setenv("DATASTORE_AUTH", "gateway")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "1")
    monkeypatch.delenv("DATASTORE_TOKEN_SECRET", raising=False)
    monkeypatch.delenv("DATASTORE_TOKEN_SECRET_ARN", raising=False)
    # The stack gives list_keys a cursor secret (test_cursor_secret.py); without one it cannot page.
    monkeypatch.setenv("DATASTORE_CURSOR_SECRET", "handler-tests-cursor-secret-0123456789abcdef")
    monkeypatch.delenv("DATASTORE_CURSOR_SECRET_ARN", raising=False)
    return {operation: load_app(operation) for operation in ORDER}


def event(kind: str, operation: str, user: str) -> dict:
    data = json.loads((EVENTS / kind / f"{operation}.json").read_text())
    if kind == "http":
        data["requestContext"]["authorizer"]["lambda"]["userId"] = user
    else:
        data["identity"]["userId"] = user
    return data


def context(name: str) -> SimpleNamespace:
    return SimpleNamespace(
        aws_request_id=f"req-{name}",
        function_name=f"agent-datastore-{name}",
        get_remaining_time_in_millis=lambda: 29_000,
    )


def body_of(result: dict) -> dict:
    body = result["body"]
    return json.loads(body) if isinstance(body, str) else body


@pytest.mark.parametrize("kind", ["http", "direct"])
def test_sample_events_through_the_real_handlers(apps, kind, user_id):
    seen_calls = {}
    out = {}
    for operation in ORDER:
        handler = apps[operation].handler
        calls = Calls(handler.api.service.store.client)
        result = handler(event(kind, operation, user_id), context(operation))
        assert result["statusCode"] == 200, (operation, result)
        if kind == "http":
            assert result["headers"]["content-type"].startswith("application/json")
            assert result["headers"]["x-request-id"] == f"req-{operation}"
        out[operation] = body_of(result)
        seen_calls[operation] = calls.log
    assert out["set"] == {"version": 1, "created": True}
    assert out["get"]["value"] == {"text": "hello", "lang": "en"}
    assert out["get"]["record"]["metadata"] == {"source": "events"}
    assert out["get"]["record"]["userId"] == user_id and out["get"]["record"]["accessCount"] == 1
    assert out["get"]["record"]["createdByAgent"] == "indexer"
    assert out["increment"] == {"value": 2, "version": 1}
    assert out["set_many"]["written"] == 3
    assert out["get_many"] == {
        "values": {"greeting": {"text": "hello", "lang": "en"}, "a": 1},
        "missing": ["nope"],
        "unprocessed": [],
    }
    assert out["list_keys"]["keys"] == ["a", "b"] and out["list_keys"]["next_cursor"]
    assert out["list_namespaces"] == {"namespaces": ["notes"]}
    assert [(row["namespace"], row["keys"]) for row in out["stats"]["namespaces"]] == [("notes", 5)]
    assert out["delete"] == {"deleted": True}
    assert out["clear"] == {"deleted": 4}
    # Least privilege holds in practice: every call made needs only granted actions.
    for operation, log in seen_calls.items():
        used = set().union(*(iam_actions(name, params) for name, params in log))
        assert used <= NEEDS[operation], (operation, used - NEEDS[operation])


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_events_get_the_contract_error(apps, name):
    operation, status, code = BAD[name]
    data = json.loads((EVENTS / "bad" / f"{name}.json").read_text())
    result = apps[operation].handler(data, context(name))
    assert result["statusCode"] == status
    error = body_of(result)["error"]
    assert error["code"] == code and error["request_id"] == f"req-{name}"
    assert "Traceback" not in json.dumps(error)


def test_aws_responses_are_byte_identical_to_the_core_adapter(monkeypatch):
    """Powertools changes nothing in the answer: same status, headers and body text."""
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "1")
    from agent_datastore.edges.aws.handler import aws_handler

    settings = Settings(store_backend="memory", auth="gateway")
    files = [
        *sorted((EVENTS / "bad").glob("*.json")),
        EVENTS / "http" / "list_namespaces.json",
        EVENTS / "direct" / "get.json",
    ]
    for path in files:
        operation = next((op for op in ORDER if path.stem == op or path.stem.startswith(f"{op}_")), None)
        operation = operation or BAD[path.stem][0]
        data = json.loads(path.read_text())
        wrapped = aws_handler(operation, Api(settings, MemoryStore()))(copy.deepcopy(data), context("same"))
        plain = make_handler(operation, Api(settings, MemoryStore()))(copy.deepcopy(data), context("same"))
        assert wrapped == plain, path.name
        if isinstance(plain["body"], str):
            assert wrapped["body"].encode() == plain["body"].encode()


def test_logs_carry_request_and_user_never_values(monkeypatch, capsys):
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "1")
    from aws_lambda_powertools import Logger

    from agent_datastore.edges.aws.handler import aws_handler

    stream = io.StringIO()
    logger = Logger(service="agent-datastore-log-test", stream=stream)
    handler = aws_handler("set", Api(Settings(store_backend="memory", auth="gateway"), MemoryStore()), logger)
    data = event("http", "set", "user-logged")
    data["body"] = json.dumps({"key": "secret-key", "value": "top-secret-value"})
    assert handler(data, context("log"))["statusCode"] == 200
    output = stream.getvalue() + capsys.readouterr().out
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    logs = [line for line in lines if line.get("message") == "request finished"]
    assert logs and logs[0]["request_id"] == "req-log" and logs[0]["user_id"] == "user-logged"
    assert logs[0]["operation"] == "set" and logs[0]["code"] == "ok"
    metrics = [line for line in lines if "_aws" in line]
    assert (
        metrics and metrics[0]["operation"] == "set" and metrics[0]["code"] == "ok" and metrics[0]["Requests"] == [1.0]
    )
    text = json.dumps(lines)
    assert "top-secret-value" not in text and "secret-key" not in text
