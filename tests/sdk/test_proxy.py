"""The sandbox proxy as a real process in front of the real server (or a stub upstream)."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
from typing import Any

import httpx
import pytest

from agent_datastore_sdk import DataStore, Forbidden, InvalidRequest
from tests.sdk.conftest import Answer, RunningProxy, mint, running_proxy, stub_upstream
from tests.servers import free_port
from tests.support.server import ROOT

MIB = 1024 * 1024
JSON = {"content-type": "application/json"}


def post(proxy: RunningProxy, operation: str, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"content-type": "application/json", **(headers or {})}  # the proxy takes JSON bodies only
    return httpx.post(f"{proxy.url}/v1/{operation}", content=data, headers=headers, timeout=30)


def assert_contract_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"] and error["request_id"]


def test_agent_code_uses_the_proxy_without_a_credential(server: Any, sandbox_proxy: RunningProxy, user_id: str) -> None:
    with DataStore(sandbox_proxy.url) as data_store:
        data_store.set("my-key", {"result": "some data"})
        assert data_store.get("my-key") == {"result": "some data"}
        record = data_store.get_record("my-key")
    assert record is not None and record.user_id == user_id and record.created_by_agent == "sandbox-agent"


def test_a_sandbox_cannot_act_as_another_user_or_agent(server: Any, sandbox_proxy: RunningProxy, user_id: str) -> None:
    victim = f"{user_id}-victim"
    victim_token = mint(victim, "victim-agent")
    with DataStore(server.url, victim_token) as victim_store:
        victim_store.set("secret", "victim data")
    claims = base64.urlsafe_b64encode(json.dumps({"sub": victim}).encode()).decode().rstrip("=")
    spoofing_headers = [
        {"authorization": f"Bearer {victim_token}"},
        {"Authorization": f"bearer {victim_token}", "x-user-id": victim},
        {"x-user-id": victim, "x-agent-name": "victim-agent"},
        {"x-apigateway-api-userinfo": claims},
        {"x-amzn-oidc-identity": victim, "x-forwarded-user": victim, "x-remote-user": victim},
        {"cookie": f"token={victim_token}", "proxy-authorization": f"Bearer {victim_token}"},
    ]
    for headers in spoofing_headers:
        # Reads see the sandbox's own user only.
        response = post(sandbox_proxy, "get", {"key": "secret"}, headers)
        assert response.json() == {"found": False}, headers
        assert post(sandbox_proxy, "list_keys", {}, headers).json()["keys"] in ([], ["mine"])
        # Writes land in the sandbox's own user, as the proxy's agent.
        assert post(sandbox_proxy, "set", {"key": "mine", "value": 1}, headers).status_code == 200
        record = post(sandbox_proxy, "get", {"key": "mine", "include_record": True}, headers).json()["record"]
        assert record["userId"] == user_id and record["lastAccessedByAgent"] == "sandbox-agent", headers
        assert record["createdByAgent"] == "sandbox-agent"
    # Identity in the body is an unknown member: refused, nothing written.
    for field in [
        {"userId": victim},
        {"user_id": victim},
        {"identity": {"userId": victim, "agentName": "x"}},
        {"agent": "x"},
        {"agentName": "x"},
        {"sub": victim},
    ]:
        response = post(sandbox_proxy, "set", {"key": "secret", "value": "overwritten", **field})
        assert_contract_error(response, 400, "invalid_request")
        with DataStore(sandbox_proxy.url) as sandbox, pytest.raises(InvalidRequest):
            sandbox._run(iter_one("get", {"key": "secret", **field}))
    with DataStore(server.url, victim_token) as victim_store:
        record = victim_store.get_record("secret")
        assert record is not None and record.value == "victim data" and record.version == 1
        assert victim_store.list_keys() == ["secret"]


def iter_one(operation: str, body: dict[str, Any]) -> Any:
    from agent_datastore_sdk._ops import make_call

    answer = yield make_call(operation, body)
    return answer


def test_only_post_v1_operation_is_forwarded(sandbox_proxy: RunningProxy) -> None:
    for method in ["GET", "PUT", "DELETE", "PATCH"]:
        response = httpx.request(method, f"{sandbox_proxy.url}/v1/get", content=b"{}", timeout=10)
        assert_contract_error(response, 405, "method_not_allowed")
    for path in [
        "/v1/admin",
        "/v1/get/x",
        "/v2/get",
        "/admin/create",
        "/v1/",
        "/v1/%2e%2e/get",
        "/v1/get%00",
        "/healthz/x",
    ]:
        response = httpx.post(f"{sandbox_proxy.url}{path}", content=b"{}", timeout=10)
        assert_contract_error(response, 404, "unknown_operation")
    assert httpx.get(f"{sandbox_proxy.url}/healthz", timeout=10).status_code == 200


def test_nothing_but_the_operation_reaches_the_upstream() -> None:
    with (
        stub_upstream(Answer(200, {"found": False})) as upstream,
        running_proxy(upstream.url, "--token", "T0K") as proxy,
    ):
        response = post(
            proxy,
            "get",
            {"key": "k"},
            {"authorization": "Bearer other", "x-user-id": "victim", "x-agent-name": "evil", "x-anything": "1"},
        )
        assert response.status_code == 200
        request = upstream.requests[0]
        assert request["path"] == "/v1/get"
        assert request["body"] == b'{"key": "k"}'
        assert request["headers"]["authorization"] == "Bearer T0K"
        forwarded = set(request["headers"])
        assert forwarded <= {"host", "authorization", "content-type", "accept", "accept-encoding", "user-agent",
                             "content-length", "connection"}  # fmt: skip
        # A query string is not forwarded either.
        post(proxy, "get?user=victim", {})
        assert upstream.requests[1]["path"] == "/v1/get"


def test_the_upstream_is_reached_through_the_environments_http_proxy() -> None:
    """The proxy calls its client's transport directly (not `Client.post`); the transport is the one
    the client picks for the URL, so HTTP_PROXY and NO_PROXY hold as they did."""
    with stub_upstream(Answer(200, {"found": False})) as egress:
        env = {"HTTP_PROXY": egress.url, "http_proxy": egress.url, "NO_PROXY": "", "no_proxy": ""}
        with running_proxy("http://datastore.invalid", "--token", "T0K", env=env) as proxy:
            response = post(proxy, "get", {"key": "k"})
        assert response.status_code == 200 and response.json() == {"found": False}
        request = egress.requests[0]
        assert request["path"] == "http://datastore.invalid/v1/get"  # absolute form: a proxy's request
        assert request["headers"]["host"] == "datastore.invalid"
        assert request["headers"]["authorization"] == "Bearer T0K"
        assert request["headers"]["accept-encoding"]  # the client's own headers, as `Client.post` sent them


def test_upstream_answers_come_back_unchanged() -> None:
    throttled = Answer(
        429, b'{"error":{"code":"throttled","message":"slow down","request_id":"r1"}}', {"retry-after": "7"}
    )
    conflict = Answer(409, {"error": {"code": "version_conflict", "message": "m", "details": {"current_version": 3}}})
    with stub_upstream(throttled, conflict) as upstream, running_proxy(upstream.url, "--token", "t") as proxy:
        first = post(proxy, "set", {"key": "k", "value": 1})
        assert first.status_code == 429
        assert first.headers["retry-after"] == "7"
        assert first.content == throttled.body
        second = post(proxy, "set", {"key": "k", "value": 1, "if_version": 2})
        assert second.status_code == 409 and second.json() == conflict.body


def test_body_size_is_capped_in_the_contract_shape(server: Any, sandbox_proxy: RunningProxy) -> None:
    too_big = b'{"key":"k","value":"' + b"x" * (6 * MIB) + b'"}'
    assert_contract_error(post(sandbox_proxy, "set", too_big), 413, "payload_too_large")
    with (
        stub_upstream(Answer(200, {})) as upstream,
        running_proxy(upstream.url, "--token", "t", "--max-body", "1000") as proxy,
    ):
        assert_contract_error(post(proxy, "set", {"key": "k", "value": "x" * 2000}), 413, "payload_too_large")
        assert post(proxy, "set", {"key": "k", "value": "x" * 100}).status_code == 200
        assert upstream.count == 1  # the oversized body never left the proxy
        chunked = httpx.post(
            f"{proxy.url}/v1/set", content=iter([b'{"key":"k",', b'"value":1}']), headers=JSON, timeout=10
        )
        assert_contract_error(chunked, 400, "invalid_request")
        assert upstream.count == 1


def test_an_unreachable_upstream_is_503_with_retry_after() -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    with running_proxy(closed, "--token", "t") as proxy:
        response = post(proxy, "get", {"key": "k"})
        assert_contract_error(response, 503, "backend_unavailable")
        assert response.headers["retry-after"] == "1"


def test_upstream_timeout_is_503(server: Any) -> None:
    with (
        stub_upstream(Answer(200, {}, delay=3)) as upstream,
        running_proxy(upstream.url, "--token", "t", "--timeout", "0.5") as proxy,
    ):
        assert_contract_error(post(proxy, "get", {"key": "k"}), 503, "backend_unavailable")


def test_minted_tokens_carry_ns_prefix_and_read_only(server: Any, user_id: str) -> None:
    args = ["--user", user_id, "--agent", "reader", "--ns-prefix", "shared-", "--read-only"]
    with DataStore(server.url, mint(user_id)) as owner:
        owner.use_namespace("shared-reports").set("r1", "report")
        owner.set("private", "p")
    with running_proxy(server.url, *args) as proxy, DataStore(proxy.url) as sandbox:
        assert sandbox.use_namespace("shared-reports").get("r1") == "report"
        assert sandbox.list_namespaces() == ["shared-reports"]
        with pytest.raises(Forbidden):
            sandbox.get("private")
        with pytest.raises(Forbidden):
            sandbox.use_namespace("shared-reports").set("r2", "x")


def test_static_token_from_the_environment(server: Any, user_id: str) -> None:
    env = {"DATASTORE_TOKEN": mint(user_id, "env-agent")}
    with running_proxy(server.url, env=env) as proxy, DataStore(proxy.url) as sandbox:
        sandbox.set("k", 1)
        record = sandbox.get_record("k")
        assert record is not None and record.created_by_agent == "env-agent"


def test_the_proxy_refuses_a_non_loopback_address_and_missing_credentials() -> None:
    base = [sys.executable, "-m", "agent_datastore.cli", "proxy", "--upstream", "http://127.0.0.1:1"]
    env = {key: value for key, value in os.environ.items() if not key.startswith("DATASTORE_")}
    hostname_ip = socket.gethostbyname(socket.gethostname())
    for args in [["--listen", f"0.0.0.0:{free_port()}", "--token", "t"], ["--listen", f"127.0.0.1:{free_port()}"]]:
        result = subprocess.run([*base, *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=30)
        assert result.returncode == 2, result.stderr
        assert "error:" in result.stderr
    assert hostname_ip  # the loopback check does not depend on name resolution


def test_the_proxy_warns_at_start_when_the_upstream_has_authentication_off(server: Any, user_id: str) -> None:
    from tests.support.server import running_server

    with (
        running_server(env={"DATASTORE_AUTH": "none", "STORE_BACKEND": "sqlite"}) as open_server,
        running_proxy(open_server.url, "--user", "alice", "--agent", "a") as proxy,
    ):
        warning = proxy.output().split("listening on")[0]
        assert "AUTHENTICATION OFF" in warning and open_server.url in warning
        assert "acts as user 'local', NOT as user 'alice'" in warning
        with DataStore(proxy.url) as sandbox:  # what the warning is about
            sandbox.set("k", 1)
            record = sandbox.get_record("k")
            assert record is not None and record.user_id == "local"
    # Not a word of it in front of a server that checks the token, nor one that cannot be asked.
    with running_proxy(server.url, "--user", user_id, "--agent", "a") as proxy:
        assert "AUTHENTICATION OFF" not in proxy.output()
    with running_proxy(f"http://127.0.0.1:{free_port()}", "--token", "t") as proxy:
        assert "AUTHENTICATION OFF" not in proxy.output()
