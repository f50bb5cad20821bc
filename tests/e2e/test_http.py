"""End to end through a real `agent-datastore serve` process (SQLite, auth off)."""

from __future__ import annotations

import json
import random
import signal
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from openapi_spec_validator import validate

from agent_datastore.api.service import OPERATIONS
from tests.support.server import running_server

MIB = 1024 * 1024


def post(http, operation, body=None, **kwargs):
    return http.post(f"/v1/{operation}", content=json.dumps(body if body is not None else {}), **kwargs)


def assert_error(response, status, code):
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["request_id"], str) and error["request_id"]
    assert set(error) <= {"code", "message", "details", "request_id"}
    return error


def test_every_operation_over_http(http):
    assert post(http, "set", {"key": "a", "value": {"n": 1}, "metadata": {"tag": "t"}}).json() == {
        "version": 1,
        "created": True,
    }
    assert post(http, "get", {"key": "a"}).json() == {"found": True, "value": {"n": 1}}
    record = post(http, "get", {"key": "a", "include_record": True}).json()["record"]
    assert record["createdByAgent"] == "e2e" and record["accessCount"] == 2 and record["metadata"] == {"tag": "t"}
    assert post(http, "set_many", {"namespace": "ns", "items": {"x": 1, "y": 2}}).json() == {
        "written": 2,
        "versions": {"x": 1, "y": 1},
    }
    assert post(http, "get_many", {"namespace": "ns", "keys": ["x", "z"]}).json() == {
        "values": {"x": 1},
        "missing": ["z"],
        "unprocessed": [],
    }
    assert post(http, "increment", {"namespace": "ns", "key": "x", "by": 41}).json() == {"value": 42, "version": 2}
    assert post(http, "list_keys", {"namespace": "ns"}).json() == {"keys": ["x", "y"], "next_cursor": None}
    assert post(http, "list_namespaces").json() == {"namespaces": ["default", "ns"]}
    stats = post(http, "stats").json()["namespaces"]
    assert [row["namespace"] for row in stats] == ["default", "ns"] and stats[1]["keys"] == 2
    assert post(http, "delete", {"key": "a"}).json() == {"deleted": True}
    assert post(http, "clear", {"namespace": "ns"}).json() == {"deleted": 2}
    assert post(http, "list_namespaces").json() == {"namespaces": []}


def test_users_come_from_headers_and_are_isolated(server, http):
    post(http, "set", {"key": "mine", "value": 1})
    with httpx.Client(base_url=server.url, headers={"X-User-Id": "intruder"}) as other:
        assert post(other, "get", {"key": "mine"}).json() == {"found": False}
    with httpx.Client(base_url=server.url) as anonymous:
        post(anonymous, "set", {"key": "k", "value": 1})
        record = post(anonymous, "get", {"key": "k", "include_record": True}).json()["record"]
        assert record["userId"] == "local" and record["createdByAgent"] == "api"


def test_version_conflict_over_http(http):
    post(http, "set", {"key": "v", "value": 1})
    error = assert_error(post(http, "set", {"key": "v", "value": 2, "if_version": 5}), 409, "version_conflict")
    assert error["details"] == {"current_version": 1}


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("POST", "/v1/get", b'{"key": ', 400, "invalid_json"),
        ("POST", "/v1/get", b"", 400, "invalid_json"),
        ("POST", "/v1/get", b"\xff", 400, "invalid_json"),
        ("POST", "/v1/get", b"[]", 400, "invalid_request"),
        ("POST", "/v1/get", b'{"key": "k", "extra": 1}', 400, "invalid_request"),
        ("POST", "/v1/get", b'{"key": ""}', 400, "invalid_key"),
        ("POST", "/v1/set", b'{"key": "k", "value": NaN}', 400, "invalid_value"),
        ("POST", "/v1/set", b'{"key": "k", "value": 1e999}', 400, "invalid_value"),
        ("POST", "/v1/set", b'{"key": "k", "value": "\\ud800"}', 400, "invalid_value"),
        ("POST", "/v1/get", b'{"key": "k", "namespace": ""}', 400, "invalid_namespace"),
        ("POST", "/v1/list_keys", b'{"cursor": "forged"}', 400, "invalid_cursor"),
        ("POST", "/v1/get_many", json.dumps({"keys": ["k"] * 101}).encode(), 400, "too_many_keys"),
        ("POST", "/v1/increment", b'{"key": "k", "by": "1"}', 400, "invalid_request"),
        ("POST", "/v1/nope", b"{}", 404, "unknown_operation"),
        ("POST", "/nope", b"{}", 404, "unknown_operation"),
        ("POST", "/v1/get/extra", b"{}", 404, "unknown_operation"),
        ("GET", "/v1/get", None, 405, "method_not_allowed"),
        ("PUT", "/v1/set", b"{}", 405, "method_not_allowed"),
        ("DELETE", "/v1/delete", None, 405, "method_not_allowed"),
        ("GET", "/nowhere", None, 404, "unknown_operation"),  # GET / is the index page (test_docs_page.py)
    ],
)
def test_bad_requests_get_the_contract_error(http, method, path, body, status, code):
    assert_error(http.request(method, path, content=body), status, code)


def test_value_too_large_and_payload_too_large(http):
    assert_error(post(http, "set", {"key": "big", "value": "x" * MIB}), 413, "value_too_large")
    response = http.post("/v1/set", content=b'{"key": "k", "value": "' + b"x" * (6 * MIB) + b'"}')
    assert_error(response, 413, "payload_too_large")
    assert post(http, "get", {"key": "big"}).json() == {"found": False}


def test_one_mib_value_over_http(http):
    value = "v" * (MIB - 2)
    assert post(http, "set", {"key": "big", "value": value}).status_code == 200
    assert post(http, "get", {"key": "big"}).json()["value"] == value


def test_unicode_keys_and_values_over_http(http):
    key = "files:my-org/my-repo#😀 100%"
    post(http, "set", {"namespace": "files:my-org/my-repo", "key": key, "value": "ünï"})
    assert post(http, "get", {"namespace": "files:my-org/my-repo", "key": key}).json()["value"] == "ünï"
    assert post(http, "list_keys", {"namespace": "files:my-org/my-repo", "prefix": "files:"}).json()["keys"] == [key]


def random_json(rng: random.Random, depth: int = 0):
    choice = rng.randrange(8 if depth < 4 else 5)
    if choice == 0:
        return None
    if choice == 1:
        return rng.choice([True, False, 0, -1, 2**60, 1.5, 1e308])
    if choice == 2:
        return "".join(chr(rng.choice([0, 0x41, 0xE9, 0x1F600, 0x2F, 0x3A])) for _ in range(rng.randrange(5)))
    if choice == 3:
        return rng.choice(["", "k", "a" * 2000, "ns", "\x00"])
    if choice == 4:
        return rng.randrange(-5, 2000)
    if choice == 5:
        return [random_json(rng, depth + 1) for _ in range(rng.randrange(3))]
    members = [
        "key",
        "value",
        "namespace",
        "metadata",
        "ttl_seconds",
        "if_version",
        "limit",
        "cursor",
        "keys",
        "items",
        "by",
        "prefix",
        "include_record",
        "track_access",
        "include_values",
        "bogus",
    ]
    return {rng.choice(members): random_json(rng, depth + 1) for _ in range(rng.randrange(5))}


def test_no_input_produces_a_500(http):
    rng = random.Random(20261130)
    operations = list(OPERATIONS)
    for _ in range(400):
        body = random_json(rng)
        response = http.post(f"/v1/{rng.choice(operations)}", content=json.dumps(body))
        assert response.status_code < 500, (body, response.text)
        if response.status_code >= 400:
            assert set(response.json()["error"]) >= {"code", "message", "request_id"}


def test_openapi_and_docs(server):
    spec = httpx.get(f"{server.url}/openapi.json").json()
    validate(spec)
    assert sorted(spec["paths"]) == sorted(f"/v1/{operation}" for operation in OPERATIONS)
    assert "Error" in spec["components"]["schemas"]
    page = httpx.get(f"{server.url}/docs")
    assert page.status_code == 200 and "/v1/list_keys" in page.text
    assert httpx.get(f"{server.url}/healthz").json()["status"] == "ok"


def test_warns_loudly_when_authentication_is_off(server):
    assert "AUTHENTICATION IS OFF" in server.output()


def test_token_mode_refuses_missing_credentials():
    with running_server(env={"DATASTORE_AUTH": "token", "DATASTORE_TOKEN_SECRET": "s3cret"}) as secured:
        response = httpx.post(f"{secured.url}/v1/get", json={"key": "k"}, headers={"X-User-Id": "someone"})
        assert_error(response, 401, "unauthorized")
        assert "AUTHENTICATION IS OFF" not in secured.output()


def test_sigterm_stops_cleanly():
    with running_server() as running:
        running.process.send_signal(signal.SIGTERM)
        assert running.process.wait(timeout=10) == 0
        assert "stopped" in running.output()


def test_two_server_processes_share_one_sqlite_file(tmp_path):
    env = {"SQLITE_PATH": str(tmp_path / "shared.sqlite3")}
    with running_server(env=env) as first, running_server(env=env) as second:

        def bump(index: int) -> int:
            url = (first if index % 2 else second).url
            return httpx.post(
                f"{url}/v1/increment", json={"key": "c"}, headers={"X-User-Id": "u"}, timeout=30
            ).status_code

        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(bump, range(60))) == {200}
        got = httpx.post(f"{first.url}/v1/get", json={"key": "c", "include_record": True}, headers={"X-User-Id": "u"})
        assert got.json()["value"] == 60 and got.json()["record"]["version"] == 60


def test_keep_alive_survives_a_get_with_a_body(server, user_id):
    with httpx.Client(base_url=server.url, headers={"X-User-Id": user_id}) as client:
        assert client.request("GET", "/v1/get", content=b'{"key": "k"}').status_code == 405
        assert client.post("/v1/set", json={"key": "k", "value": 1}).json() == {"version": 1, "created": True}
        assert client.request("DELETE", "/v1/delete", content=b'{"key": "k"}').status_code == 405
        assert client.post("/v1/get", json={"key": "k"}).json() == {"found": True, "value": 1}


def test_protocol_errors_use_the_contract_shape(server):
    from tests.support.server import raw_exchange

    for raw, status, code in [
        (b"FROB /v1/get HTTP/1.1\r\nHost: x\r\n\r\n", 405, "method_not_allowed"),
        (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 413, "payload_too_large"),
        (b"POST /v1/get HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400, "invalid_request"),
        (b"POST /v1/get HTTP/9.9\r\nHost: x\r\n\r\n", 400, "invalid_request"),
    ]:
        got_status, body = raw_exchange(server.url, raw)
        assert got_status == status, (raw[:40], got_status)
        assert body["error"]["code"] == code


@pytest.mark.parametrize("user", ["u" * 513, "é" * 257])
def test_oversized_identities_are_refused_not_crashed(server, user):
    response = httpx.post(f"{server.url}/v1/get", json={"key": "k"}, headers={"X-User-Id": user.encode()})
    assert_error(response, 401, "unauthorized")
    response = httpx.post(f"{server.url}/v1/get", json={"key": "k"}, headers={"X-Agent-Name": "a" * 257})
    assert_error(response, 401, "unauthorized")


def test_utf8_identity_headers(server):
    headers = {"X-User-Id": "zoë".encode(), "X-Agent-Name": "agënt".encode()}
    httpx.post(f"{server.url}/v1/set", json={"key": "k", "value": 1}, headers=headers)
    record = httpx.post(f"{server.url}/v1/get", json={"key": "k", "include_record": True}, headers=headers).json()
    assert record["record"]["userId"] == "zoë" and record["record"]["createdByAgent"] == "agënt"


def test_kept_alive_requests_are_not_held_back_by_delayed_acks(http):
    import time

    post(http, "set", {"key": "fast", "value": 1})
    started = time.perf_counter()
    for _ in range(20):
        post(http, "get", {"key": "fast", "track_access": False})
    # 20 round trips; with Nagle + delayed ACK each took ~40 ms.
    assert (time.perf_counter() - started) / 20 < 0.02


@pytest.mark.parametrize("body", [b"", b"  \r\n"])
def test_an_empty_body_is_named_as_such(http, body):
    error = assert_error(http.request("POST", "/v1/get", content=body), 400, "invalid_json")
    assert error["message"].startswith("request body is empty")
