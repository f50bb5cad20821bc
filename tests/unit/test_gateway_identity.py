"""Identity comes from what a gateway verified, never from a header a client can send."""

from __future__ import annotations

import base64
import json

from agent_datastore.api.app import Api
from agent_datastore.core.settings import Settings
from agent_datastore.edges.auth import mint_token
from agent_datastore.edges.aws.handler import make_handler
from agent_datastore.stores.memory import MemoryStore

SECRET = "unit-secret-of-at-least-32-bytes-long"


def event(body: dict, headers: dict, claims: dict | None = None) -> dict:
    context: dict = {"http": {"method": "POST", "path": "/v1/set"}, "requestId": "r"}
    if claims is not None:
        context["authorizer"] = {"jwt": {"claims": claims}}
    return {
        "version": "2.0",
        "rawPath": "/v1/set",
        "headers": headers,
        "requestContext": context,
        "body": json.dumps(body),
    }


def userinfo(sub: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"sub": sub}).encode()).decode().rstrip("=")


def test_a_client_sent_google_userinfo_header_is_ignored_on_aws():
    store = MemoryStore()
    handler = make_handler(None, Api(Settings(auth="gateway", token_secret=SECRET), store))
    token = mint_token(SECRET, user="alice", agent="a")
    spoofed = {"authorization": f"Bearer {token}", "x-apigateway-api-userinfo": userinfo("bob")}
    assert handler(event({"key": "k", "value": 1}, spoofed), None)["statusCode"] == 200
    assert [record.user_id for record in store.scan("alice")] == ["alice"]
    assert list(store.scan("bob")) == []
    alone = handler(event({"key": "k", "value": 1}, {"x-apigateway-api-userinfo": userinfo("bob")}), None)
    assert alone["statusCode"] == 401


def test_claims_from_the_jwt_authorizer_are_used():
    store = MemoryStore()
    handler = make_handler(None, Api(Settings(auth="gateway"), store))
    answer = handler(event({"key": "k", "value": 1}, {"x-agent-name": "ci"}, claims={"sub": "carol"}), None)
    assert answer["statusCode"] == 200
    (record,) = store.scan("carol")
    assert record.created_by_agent == "ci"
    assert handler(event({"key": "k", "value": 1}, {}, claims={"iss": "x"}), None)["statusCode"] == 401


def test_clear_over_http_stops_before_the_function_times_out():
    import time
    from types import SimpleNamespace

    from agent_datastore.edges.aws.events import deadline_from_context

    context = SimpleNamespace(aws_request_id="r", get_remaining_time_in_millis=lambda: 10_000)
    started = time.monotonic()
    deadline = deadline_from_context(context)
    assert deadline is not None and 6.5 < deadline - started < 7.1  # 3 s kept for answering

    seen = {}

    class Store(MemoryStore):
        def clear(self, scope, *, now, deadline):
            seen["deadline"] = deadline
            return super().clear(scope, now=now, deadline=deadline)

    handler = make_handler("clear", Api(Settings(auth="gateway"), Store()))
    answer = handler(
        {
            "version": "2.0",
            "rawPath": "/v1/clear",
            "headers": {},
            "requestContext": {"http": {"method": "POST"}, "authorizer": {"jwt": {"claims": {"sub": "u"}}}},
            "body": "{}",
        },
        context,
    )
    assert answer["statusCode"] == 200
    assert seen["deadline"] - time.monotonic() < 7.0
