"""The same bad requests through the AWS and the GCP adapter: identical statuses and bodies."""

from __future__ import annotations

import base64
import importlib.util
import json
from typing import Any

import flask
import pytest

from agent_datastore.api.app import Api
from agent_datastore.core.settings import Settings
from agent_datastore.edges.auth import mint_token
from agent_datastore.edges.aws.handler import make_handler
from agent_datastore.edges.gcp import gcp_handler
from agent_datastore.stores.memory import MemoryStore

SECRET = "cross-adapter-secret-of-32-bytes-or-more"
TOKEN = mint_token(SECRET, user="u1", agent="a", ttl_seconds=6 * 3600)  # minted at collection: outlives the suite
AUTH = {"authorization": f"Bearer {TOKEN}"}
USERINFO = {"x-apigateway-api-userinfo": base64.urlsafe_b64encode(b'{"sub":"u1"}').decode().rstrip("=")}

# (name, operation or None for path routing, method, path, body, headers)
CASES = [
    ("bad-json", "set", "POST", "/v1/set", b'{"key": "a", "value": ', AUTH),
    ("not-an-object", "set", "POST", "/v1/set", b"[1, 2]", AUTH),
    ("not-utf8", "set", "POST", "/v1/set", b'{"key": "\xff"}', AUTH),
    ("unknown-member", "get", "POST", "/v1/get", b'{"key": "a", "userId": "x"}', AUTH),
    ("bad-key", "get", "POST", "/v1/get", b'{"key": ""}', AUTH),
    ("nul-in-key", "get", "POST", "/v1/get", b'{"key": "a\\u0000b"}', AUTH),
    ("bad-namespace", "get", "POST", "/v1/get", json.dumps({"namespace": "n" * 257, "key": "a"}).encode(), AUTH),
    ("too-large", "set", "POST", "/v1/set", json.dumps({"key": "a", "value": "x" * (1024 * 1024)}).encode(), AUTH),
    (
        "payload-too-large",
        "set",
        "POST",
        "/v1/set",
        b'{"key": "a", "value": "' + b"x" * (6 * 1024 * 1024) + b'"}',
        AUTH,
    ),
    (
        # 2.1 million characters, 6.3 MB of UTF-8: the contract's limit is in bytes.
        "payload-too-large-in-bytes",
        "set",
        "POST",
        "/v1/set",
        b'{"key": "a", "value": "' + "\u00e9".encode() * (3 * 1024 * 1024 + 1) + b'"}',
        AUTH,
    ),
    (
        "too-many-keys",
        "get_many",
        "POST",
        "/v1/get_many",
        json.dumps({"keys": [str(i) for i in range(101)]}).encode(),
        AUTH,
    ),
    ("bad-limit", "list_keys", "POST", "/v1/list_keys", b'{"limit": 2.0}', AUTH),
    ("bad-cursor", "list_keys", "POST", "/v1/list_keys", b'{"cursor": "forged"}', AUTH),
    ("unknown-op", None, "POST", "/v1/nope", b"{}", AUTH),
    ("wrong-method", "get", "GET", "/v1/get", b"", AUTH),
    ("missing-credentials", "get", "POST", "/v1/get", b'{"key": "a"}', {}),
    ("expired-token", "get", "POST", "/v1/get", b'{"key": "a"}', {"authorization": "Bearer " + "e30.e30.x"}),
    ("claims-without-sub", "get", "POST", "/v1/get", b'{"key": "a"}', {"x-apigateway-api-userinfo": "e30"}),
    ("gateway-ok-but-bad-value", "set", "POST", "/v1/set", b'{"key": "a", "value": 1e400}', USERINFO),
]


def api() -> Api:
    return Api(Settings(auth="gateway", token_secret=SECRET), MemoryStore())


def aws_answer(
    operation: str | None, method: str, path: str, body: bytes, headers: dict[str, str]
) -> tuple[int, Any, dict[str, str]]:
    """An HTTP API v2 event as AWS sends it (JWT claims in the authorizer context when the gateway verified one)."""
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "headers": {name: value for name, value in headers.items() if name != "x-apigateway-api-userinfo"},
        "requestContext": {"http": {"method": method, "path": path}, "requestId": "aws-req"},
        "body": body.decode("utf-8", errors="strict") if _is_text(body) else base64.b64encode(body).decode(),
        "isBase64Encoded": not _is_text(body),
    }
    if "x-apigateway-api-userinfo" in headers:
        claims = json.loads(base64.urlsafe_b64decode(headers["x-apigateway-api-userinfo"] + "=="))
        event["requestContext"]["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    if (
        operation is not None
        and importlib.util.find_spec("agent_datastore.edges.aws.handler")
        and importlib.util.find_spec("aws_lambda_powertools")
    ):
        from agent_datastore.edges.aws.handler import aws_handler

        handler = aws_handler(operation, api())
    else:
        handler = make_handler(operation, api())
    result = handler(event, None)
    return int(result["statusCode"]), json.loads(result["body"]), result["headers"]


def gcp_answer(
    operation: str | None, method: str, path: str, body: bytes, headers: dict[str, str]
) -> tuple[int, Any, dict[str, str]]:
    app = flask.Flask("cross-adapter")
    with app.test_request_context(path if operation is None else "/", method=method, data=body, headers=headers):
        text, status, out_headers = gcp_handler(operation, api())(flask.request)
    return status, json.loads(text), out_headers


def _is_text(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def without_request_id(body: Any) -> Any:
    error = dict(body["error"])
    assert error.pop("request_id")
    return {"error": error}


@pytest.mark.parametrize(
    ("operation", "method", "path", "body", "headers"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_same_error_on_aws_and_gcp(operation, method, path, body, headers):
    aws_status, aws_body, aws_headers = aws_answer(operation, method, path, body, headers)
    gcp_status, gcp_body, gcp_headers = gcp_answer(operation, method, path, body, headers)
    assert aws_status >= 400, aws_body
    assert (gcp_status, without_request_id(gcp_body)) == (aws_status, without_request_id(aws_body))
    assert gcp_headers["content-type"] == aws_headers["content-type"]


def test_the_cases_cover_the_contracts_transport_errors():
    codes = {aws_answer(*case[1:])[1]["error"]["code"] for case in CASES}
    assert {
        "invalid_json",
        "invalid_request",
        "invalid_key",
        "value_too_large",
        "payload_too_large",
        "unknown_operation",
        "method_not_allowed",
        "unauthorized",
        "too_many_keys",
        "invalid_cursor",
    } <= codes


def test_the_body_limit_counts_bytes_not_characters():
    case = next(case for case in CASES if case[0] == "payload-too-large-in-bytes")
    assert len(case[4].decode("utf-8")) < 6 * 1024 * 1024 < len(case[4])
    for answer in (aws_answer, gcp_answer):
        status, body, _ = answer(*case[1:])
        assert (status, body["error"]["code"]) == (413, "payload_too_large")
