"""Section 6: one error shape; routing; malformed bodies; nothing is a 500."""

from __future__ import annotations

import itertools
import json

import httpx
import pytest

from .conftest import check_error_shape

OPERATIONS = [
    "get",
    "set",
    "delete",
    "list_keys",
    "list_namespaces",
    "clear",
    "get_many",
    "set_many",
    "increment",
    "stats",
]

# The smallest valid body of each operation that needs members.
MINIMAL_BODIES = {
    "get": {"key": "k"},
    "set": {"key": "k", "value": 1},
    "delete": {"key": "k"},
    "get_many": {"keys": ["k"]},
    "set_many": {"items": {"k": 1}},
    "increment": {"key": "k"},
}


def test_unknown_operation(api):
    check_error_shape(api.client.post("/v1/nope", content="{}"), 404, "unknown_operation")
    check_error_shape(api.client.post("/v1/GET", content="{}"), 404, "unknown_operation")
    check_error_shape(api.client.post("/v1/", content="{}"), 404, "unknown_operation")
    check_error_shape(api.client.post("/v1/get/extra", content="{}"), 404, "unknown_operation")


@pytest.mark.parametrize("path", ["/v2/get", "/get", "/v1", "/foo/bar", "/v1/get_many/x"])
def test_unknown_paths_are_unknown_operation(api, path):
    for method in ("GET", "POST"):
        check_error_shape(api.client.request(method, path, content="{}"), 404, "unknown_operation")


def test_the_root_is_no_operation(api):
    # `GET /` is the local server's index of links (docs/contract-notes.md); a POST there is no operation.
    check_error_shape(api.client.post("/", content="{}"), 405, "method_not_allowed")


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize("operation", OPERATIONS)
def test_other_methods_are_method_not_allowed(api, method, operation):
    check_error_shape(api.client.request(method, f"/v1/{operation}", content="{}"), 405, "method_not_allowed")


def test_unknown_operation_wins_over_method(api):
    check_error_shape(api.client.get("/v1/nope"), 404, "unknown_operation")


def test_method_wins_over_body_size(api):
    check_error_shape(api.client.put("/v1/set", content=b" " * (7 * 1024 * 1024)), 405, "method_not_allowed")


def test_error_request_ids_differ(api):
    first = api.err("get", {}, 400, "invalid_request")
    second = api.err("get", {}, 400, "invalid_request")
    assert first["request_id"] != second["request_id"]


@pytest.mark.parametrize(
    "raw",
    [b"", b" ", b"{", b'{"key": "k"', b"{'key': 'k'}", b"\xff\xfe{}", b'{"key": "\xff"}', b"nul", b'{"key": k}'],
    ids=["empty", "space", "brace", "truncated", "single-quotes", "bom-ish", "bad-utf8", "nul", "bare-word"],
)
@pytest.mark.parametrize("operation", OPERATIONS)
def test_invalid_json(api, operation, raw):
    api.err(operation, None, 400, "invalid_json", raw=raw)


@pytest.mark.parametrize("raw", ["[]", '"x"', "1", "null", "true", '[{"key": "k"}]'])
@pytest.mark.parametrize("operation", ["get", "list_namespaces", "stats"])
def test_body_must_be_an_object(api, operation, raw):
    api.err(operation, None, 400, "invalid_request", raw=raw)


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("member", ["identity", "userId", "user_id", "bogus", "Key", "includeRecord"])
def test_unknown_members_are_rejected(api, operation, member):
    body = {**MINIMAL_BODIES.get(operation, {}), member: {"userId": "someone-else"}}
    api.err(operation, body, 400, "invalid_request")
    assert api.ok("list_namespaces", {}) == {"namespaces": []}


@pytest.mark.parametrize(
    ("operation", "member"),
    [
        ("get", "value"),
        ("get", "ttl_seconds"),
        ("delete", "value"),
        ("list_namespaces", "namespace"),
        ("list_keys", "key"),
        ("clear", "prefix"),
        ("get_many", "key"),
        ("set_many", "key"),
        ("set_many", "if_version"),
        ("increment", "value"),
        ("increment", "if_version"),
        ("stats", "prefix"),
        ("set", "by"),
        ("set", "include_record"),
    ],
)
def test_members_of_other_operations_are_unknown(api, operation, member):
    api.err(operation, {**MINIMAL_BODIES.get(operation, {}), member: 1}, 400, "invalid_request")


def test_identity_headers_cannot_be_overridden_by_body(api):
    api.err("set", {"key": "k", "value": 1, "userId": "victim"}, 400, "invalid_request")
    api.err("set", {"key": "k", "value": 1, "identity": {"userId": "victim"}}, 400, "invalid_request")


def test_specific_codes_win_over_invalid_request(api):
    api.err("set", {"namespace": "", "value": 1}, 400, "invalid_namespace")
    api.err("set", {"key": "", "value": 1, "bogus": 1}, 400, "invalid_key")


def test_version_conflict_and_not_a_number_shapes(api):
    api.ok("set", {"key": "k", "value": "text"})
    error = api.err("set", {"key": "k", "value": 1, "if_version": 0}, 409, "version_conflict")
    assert error["details"] == {"current_version": 1}
    api.err("increment", {"key": "k"}, 409, "not_a_number")


JUNK = [None, True, 0, -1, 1.5, "", "x", "\x00", [], [None], {}, {"a": None}, 10**30, "\U0001f600" * 200]
MEMBERS = ["namespace", "key", "value", "keys", "items", "metadata", "ttl_seconds", "if_version", "limit", "cursor"]
MEMBERS += ["prefix", "include_values", "include_record", "track_access", "by", "include_records", "refresh_ttl"]


@pytest.mark.parametrize("operation", OPERATIONS)
def test_no_junk_member_produces_a_500(api, operation):
    """Every member with every kind of junk: always a 200 or a contract error (checked by api.call)."""
    base = {
        "get": {"key": "k"},
        "set": {"key": "k", "value": 1},
        "delete": {"key": "k"},
        "get_many": {"keys": ["k"]},
        "set_many": {"items": {"k": 1}},
        "increment": {"key": "k"},
    }.get(operation, {})
    api.ok("set", {"key": "k", "value": 1})
    for member, junk in itertools.product(MEMBERS, JUNK):
        response = api.call(operation, {**base, member: junk})
        if response.status_code != 200:
            check_error_shape(response, response.status_code, response.json()["error"]["code"])


def test_content_type_is_not_required(api):
    response = api.client.post("/v1/set", content=json.dumps({"key": "k", "value": 1}), headers={"Content-Type": ""})
    assert response.status_code in (200, 400) and response.status_code != 500
    response = api.client.post("/v1/get", content=json.dumps({"key": "k"}), headers={"Content-Type": "text/plain"})
    assert response.status_code < 500


def test_duplicate_members_do_not_crash(api):
    response = api.call("set", raw='{"key": "a", "key": "b", "value": 1}')
    assert response.status_code in (200, 400)


def test_keep_alive_connection_survives_errors(server, user_id):
    with httpx.Client(base_url=server.url, headers={"X-User-Id": user_id}) as client:
        for _ in range(3):
            assert client.post("/v1/get", content=b"{").status_code == 400
            assert client.post("/v1/set", content=json.dumps({"key": "k", "value": 1})).status_code == 200
            assert client.post("/v1/nope", content=b"{}").status_code == 404
            assert client.get("/v1/get").status_code == 405


def test_server_says_auth_is_off_loudly(server):
    text = server.output().lower()
    assert "auth" in text and ("off" in text or "none" in text or "disabled" in text), server.output()[-2000:]


def test_chunked_body_over_6_mib_is_payload_too_large(api):
    def chunks():
        yield b'{"key": "k", "value": "'
        for _ in range(7):
            yield b"x" * (1024 * 1024)
        yield b'"}'

    response = api.client.post("/v1/set", content=chunks())
    # a chunked body without Content-Length: refused (the server asks for a Content-Length), never a 500
    if response.status_code == 400:
        check_error_shape(response, 400, "invalid_request")
    else:
        check_error_shape(response, 413, "payload_too_large")
    assert api.ok("get", {"key": "k"}) == {"found": False}


def test_small_chunked_body_works_or_is_refused_cleanly(api):
    def chunks():
        yield b'{"key": "k", '
        yield b'"value": 1}'

    response = api.client.post("/v1/set", content=chunks())
    if response.status_code == 200:
        assert api.ok("get", {"key": "k"}) == {"found": True, "value": 1}
    else:
        check_error_shape(response, 400, "invalid_request")
