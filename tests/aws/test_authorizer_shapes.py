"""Odd events and odd claims are denied (or answered 401), never raised out of a handler (a gateway 500)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest

from agent_datastore.api.app import Api
from agent_datastore.core.errors import Unauthorized
from agent_datastore.core.settings import Settings
from agent_datastore.edges import auth
from agent_datastore.edges.aws.authorizer import authorize, verify_platform_jwt
from agent_datastore.edges.aws.handler import make_handler
from agent_datastore.stores.memory import MemoryStore

from .test_authorizer import AUDIENCE, SECRET, Keys, capability, keys, request, settings  # noqa: F401

RAW_SECRET = SECRET.split("=", 1)[1]


def signed_by_hand(claims_json: str, secret: str = RAW_SECRET) -> str:
    """An HS256 token whose payload is exactly `claims_json` (PyJWT would write numbers its own way)."""

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = f"{part(json.dumps({'alg': 'HS256', 'kid': 'k1'}).encode())}.{part(claims_json.encode())}"
    return f"{signing_input}.{part(hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest())}"


def denied(answer: dict[str, Any]) -> bool:
    return answer["isAuthorized"] is True and set(answer["context"]) == {"denied"}


ODD_EVENTS: dict[str, Any] = {
    "headers-null": {"headers": None},
    "headers-list": {"headers": [["authorization", "Bearer x"]]},
    "headers-string": {"headers": "authorization: Bearer x"},
    "headers-number": {"headers": 7},
    "authorization-null": {"headers": {"authorization": None}},
    "authorization-list": {"headers": {"authorization": ["Bearer x"]}},
    "authorization-number": {"headers": {"authorization": 12}},
    "authorization-object": {"headers": {"authorization": {"Bearer": "x"}}},
    "identity-source-null": {"identitySource": None},
    "identity-source-string": {"identitySource": "Bearer x"},
    "identity-source-objects": {"identitySource": [{"a": 1}, None, 5]},
    "request-context-list": {"requestContext": []},
}


@pytest.mark.parametrize("name", list(ODD_EVENTS))
def test_an_event_of_an_odd_shape_is_denied(settings: Settings, name: str) -> None:  # noqa: F811
    event = {**request(capability()), **ODD_EVENTS[name]}
    if "headers" not in ODD_EVENTS[name]:
        event["headers"] = {"content-type": "application/json"}  # no credential but in the odd member
    assert denied(authorize(event, settings)), name


def test_a_header_that_is_not_text_is_no_credential(settings: Settings) -> None:  # noqa: F811
    token = capability()
    event = request(token)
    event["headers"] = {"authorization": f"Bearer {token}", "x-agent-name": ["a", "b"], 3: None}
    assert authorize(event, settings)["context"]["userId"] == "user-7f3a9c"


@pytest.mark.parametrize("headers", [[["authorization", "Bearer x"]], "text", 5, {"authorization": ["Bearer x"]}])
def test_a_function_answers_401_to_odd_headers(headers: Any) -> None:
    handler = make_handler("get", Api(Settings(store_backend="memory", auth="gateway"), MemoryStore()))
    event = {
        "version": "2.0",
        "rawPath": "/v1/get",
        "headers": headers,
        "requestContext": {"http": {"method": "POST", "path": "/v1/get"}},
        "body": '{"key": "k"}',
    }
    result = handler(event)
    assert result["statusCode"] == 401 and json.loads(result["body"])["error"]["code"] == "unauthorized"


FAR = 4102444800

ODD_TIMES = {
    "exp-numeric-string": f'{{"sub": "u", "agent": "a", "exp": "{FAR}"}}',
    "exp-string-float": f'{{"sub": "u", "agent": "a", "exp": "{FAR}.5"}}',
    "exp-true": '{"sub": "u", "agent": "a", "exp": true}',
    "exp-null": '{"sub": "u", "agent": "a", "exp": null}',
    "exp-infinity": '{"sub": "u", "agent": "a", "exp": Infinity}',
    "exp-nan": '{"sub": "u", "agent": "a", "exp": NaN}',
    "exp-huge": '{"sub": "u", "agent": "a", "exp": 1e400}',
    "exp-list": f'{{"sub": "u", "agent": "a", "exp": [{FAR}]}}',
    "iat-numeric-string": f'{{"sub": "u", "agent": "a", "exp": {FAR}, "iat": "1000"}}',
    "iat-true": f'{{"sub": "u", "agent": "a", "exp": {FAR}, "iat": true}}',
    "nbf-numeric-string": f'{{"sub": "u", "agent": "a", "exp": {FAR}, "nbf": "1000"}}',
    "nbf-object": f'{{"sub": "u", "agent": "a", "exp": {FAR}, "nbf": {{}}}}',
}


@pytest.mark.parametrize("name", list(ODD_TIMES))
def test_a_capability_token_needs_json_numbers_for_its_times(settings: Settings, name: str) -> None:  # noqa: F811
    token = signed_by_hand(ODD_TIMES[name])
    with pytest.raises(Unauthorized):
        auth.verify_token(token, auth.parse_secrets(SECRET))
    assert denied(authorize(request(token), settings)), name


def test_numbers_are_fine_integers_or_not(settings: Settings) -> None:  # noqa: F811
    for claims in (
        f'{{"sub": "u", "agent": "a", "exp": {FAR}}}',
        f'{{"sub": "u", "agent": "a", "exp": {FAR}.5, "iat": 1000.25, "nbf": 1000}}',
    ):
        assert auth.verify_token(signed_by_hand(claims), auth.parse_secrets(SECRET)).user_id == "u"
        assert authorize(request(signed_by_hand(claims)), settings)["context"]["userId"] == "u"


@pytest.mark.parametrize("claim", ["exp", "iat", "nbf"])
def test_a_platform_jwt_needs_json_numbers_for_its_times(keys: Keys, settings: Settings, claim: str) -> None:  # noqa: F811
    now = int(time.time())
    overrides = {"exp": now + 300, "iat": now - 10, "nbf": now - 10}
    overrides[claim] = str(overrides[claim])
    token = keys.token(**overrides)
    with pytest.raises(Unauthorized):
        verify_platform_jwt(token, settings)
    assert denied(authorize(request(token), settings))
    assert verify_platform_jwt(keys.token(exp=now + 300, nbf=now - 10), settings)[0] == "platform-user"
    assert jwt.get_unverified_header(token)["alg"] == "RS256" and AUDIENCE
