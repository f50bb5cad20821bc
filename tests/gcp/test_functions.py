"""functions/gcp/main.py loaded by functions-framework, against the Firestore emulator."""

from __future__ import annotations

import base64
import json

import jwt
import pytest

from agent_datastore.api.service import OPERATIONS as TABLE
from agent_datastore.edges.auth import mint_token

OPERATIONS = list(TABLE)


def userinfo(claims):
    return base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")


def google_id_token(email):
    # Cloud Run IAM has verified the signature before the request reaches the function.
    claims = {"iss": "https://accounts.google.com", "email": email, "sub": "1234", "aud": "x", "exp": 9999999999}
    return jwt.encode(claims, "signature-not-checked-by-the-function!", algorithm="HS256")


def test_every_operation_has_a_target(functions_app):
    for operation in OPERATIONS:
        response = functions_app(operation).post(
            "/", data="{", headers={"X-Apigateway-Api-Userinfo": userinfo({"sub": "u"})}
        )
        assert response.status_code == 400 and response.get_json()["error"]["code"] == "invalid_json", operation


def test_gateway_identity_round_trip(functions_app, user_id):
    headers = {"X-Apigateway-Api-Userinfo": userinfo({"sub": user_id}), "X-Agent-Name": "planner"}
    created = functions_app("set").post("/", json={"namespace": "n/1", "key": "k", "value": [1, 2]}, headers=headers)
    assert created.status_code == 200 and created.get_json() == {"version": 1, "created": True}
    assert created.headers["content-type"] == "application/json; charset=utf-8" and created.headers["x-request-id"]
    got = functions_app("get").post("/", json={"namespace": "n/1", "key": "k", "include_record": True}, headers=headers)
    record = got.get_json()["record"]
    assert record["value"] == [1, 2] and record["userId"] == user_id and record["createdByAgent"] == "planner"
    other = {"X-Apigateway-Api-Userinfo": userinfo({"sub": "someone-else"})}
    assert functions_app("get").post("/", json={"namespace": "n/1", "key": "k"}, headers=other).get_json() == {
        "found": False
    }


def test_capability_token_directly_and_forwarded_by_the_gateway(functions_app, user_id):
    token = mint_token("test-secret-of-at-least-thirty-two-bytes", user=user_id, agent="sandbox", ns_prefix="job-")
    direct = functions_app("increment").post(
        "/", json={"namespace": "job-1", "key": "c"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert direct.get_json() == {"value": 1, "version": 1}
    # Behind API Gateway, Authorization holds the gateway's own token; the caller's moves to X-Forwarded-Authorization.
    forwarded = {"Authorization": "Bearer gateway-id-token", "X-Forwarded-Authorization": f"Bearer {token}"}
    again = functions_app("increment").post("/", json={"namespace": "job-1", "key": "c"}, headers=forwarded)
    assert again.get_json() == {"value": 2, "version": 2}
    outside = functions_app("get").post(
        "/", json={"namespace": "other", "key": "c"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert outside.status_code == 403 and outside.get_json()["error"]["code"] == "forbidden"


def test_trusted_direct_invocation(functions_app, user_id):
    headers = {"Authorization": f"Bearer {google_id_token('indexer@proj.iam.gserviceaccount.com')}"}
    body = {"identity": {"userId": user_id, "agentName": "indexer"}, "key": "k", "value": {"a": 1}}
    response = functions_app("set").post("/", json=body, headers=headers)
    assert response.status_code == 200 and response.get_json() == {
        "statusCode": 200,
        "body": {"version": 1, "created": True},
    }
    got = functions_app("get").post("/", json={"identity": {"userId": user_id}, "key": "k"}, headers=headers)
    assert got.get_json() == {"statusCode": 200, "body": {"found": True, "value": {"a": 1}}}
    bad = functions_app("get").post("/", json={"identity": {"userId": user_id}, "key": ""}, headers=headers)
    assert bad.get_json()["statusCode"] == 400 and bad.get_json()["body"]["error"]["code"] == "invalid_key"


def test_a_trusted_direct_invocation_over_6_mib_is_payload_too_large(functions_app, user_id):
    headers = {"Authorization": f"Bearer {google_id_token('indexer@proj.iam.gserviceaccount.com')}"}
    identity = {"userId": user_id, "agentName": "indexer"}
    items = {f"k{i}": "x" * (1024 * 1024 - 64) for i in range(7)}  # each value within 1 MiB, 7 MiB in all
    response = functions_app("set_many").post("/", json={"identity": identity, "items": items}, headers=headers)
    answer = response.get_json()
    assert response.status_code == 200 and answer["statusCode"] == 413
    assert answer["body"]["error"]["code"] == "payload_too_large"
    got = functions_app("get").post("/", json={"identity": identity, "key": "k0"}, headers=headers)
    assert got.get_json() == {"statusCode": 200, "body": {"found": False}}  # nothing was written


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": f"Bearer {google_id_token('stranger@proj.iam.gserviceaccount.com')}"},
        {
            "Authorization": f"Bearer {google_id_token('indexer@proj.iam.gserviceaccount.com')}",
            "X-Forwarded-Authorization": "Bearer x",
        },
        {},
    ],
    ids=["unlisted-caller", "through-the-gateway", "no-credentials"],
)
def test_identity_in_the_body_is_never_trusted_otherwise(functions_app, user_id, headers):
    response = functions_app("get").post("/", json={"identity": {"userId": user_id}, "key": "k"}, headers=headers)
    assert response.status_code in (400, 401)
    assert response.get_json()["error"]["code"] in ("invalid_request", "unauthorized")


def test_route_target_serves_every_path(functions_app, user_id):
    client = functions_app("route")
    headers = {"X-Apigateway-Api-Userinfo": userinfo({"sub": user_id})}
    assert client.post("/v1/set", json={"key": "a", "value": 1}, headers=headers).status_code == 200
    assert client.post("/v1/list_keys", json={}, headers=headers).get_json() == {"keys": ["a"], "next_cursor": None}
    assert client.post("/v1/nope", json={}, headers=headers).status_code == 404


# The sandbox entry point (infra/gcp: the `sandbox` gateway, no gateway security): its
# functions run with DATASTORE_AUTH=token and no direct callers, and the gateway forwards
# the caller's Authorization as X-Forwarded-Authorization, calling with its own ID token.
SECRET = "test-secret-of-at-least-thirty-two-bytes"
GATEWAY_ID_TOKEN = {"Authorization": f"Bearer {google_id_token('ads-sandbox-gw@proj.iam.gserviceaccount.com')}"}


@pytest.fixture
def sandbox_app(functions_app, monkeypatch):
    monkeypatch.setenv("DATASTORE_AUTH", "token")
    monkeypatch.setenv("DATASTORE_DIRECT_CALLERS", "")
    return functions_app


def through_sandbox_gateway(token=None, **extra):
    headers = dict(GATEWAY_ID_TOKEN, **extra)
    if token is not None:
        headers["X-Forwarded-Authorization"] = f"Bearer {token}"
    return headers


def test_sandbox_accepts_a_forwarded_capability_token(sandbox_app, user_id):
    token = mint_token(SECRET, user=user_id, agent="sandbox", ns_prefix="job-")
    created = sandbox_app("set").post(
        "/", json={"namespace": "job-1", "key": "k", "value": 1}, headers=through_sandbox_gateway(token)
    )
    assert created.status_code == 200 and created.get_json() == {"version": 1, "created": True}
    got = sandbox_app("get").post(
        "/", json={"namespace": "job-1", "key": "k", "include_record": True}, headers=through_sandbox_gateway(token)
    )
    record = got.get_json()["record"]
    assert record["userId"] == user_id and record["createdByAgent"] == "sandbox"
    outside = sandbox_app("get").post("/", json={"namespace": "x", "key": "k"}, headers=through_sandbox_gateway(token))
    assert outside.status_code == 403 and outside.get_json()["error"]["code"] == "forbidden"


def test_sandbox_ignores_forged_gateway_claims(sandbox_app, user_id):
    victim = f"{user_id}-victim"
    forged = {"X-Apigateway-Api-Userinfo": userinfo({"sub": victim}), "X-Agent-Name": "forger"}
    # With a token: the token's user and agent, never the forged claims.
    token = mint_token(SECRET, user=user_id, agent="sandbox")
    written = sandbox_app("set").post(
        "/", json={"key": "k", "value": "mine"}, headers=through_sandbox_gateway(token, **forged)
    )
    assert written.status_code == 200
    got = sandbox_app("get").post(
        "/", json={"key": "k", "include_record": True}, headers=through_sandbox_gateway(token, **forged)
    )
    record = got.get_json()["record"]
    assert record["userId"] == user_id and record["createdByAgent"] == "sandbox"
    # Without a token: 401, however the claims are sent (forwarded by the gateway or not).
    for headers in (through_sandbox_gateway(None, **forged), forged):
        refused = sandbox_app("get").post("/", json={"key": "k"}, headers=headers)
        assert refused.status_code == 401 and refused.get_json()["error"]["code"] == "unauthorized"
    # The victim's data was never touched.
    victim_token = mint_token(SECRET, user=victim, agent="check")
    assert sandbox_app("get").post(
        "/", json={"key": "k"}, headers=through_sandbox_gateway(victim_token)
    ).get_json() == {"found": False}


@pytest.mark.parametrize(
    "caller",
    ["sandbox-token", "trusted-service-account"],
)
def test_sandbox_refuses_identity_in_the_body(sandbox_app, user_id, caller):
    if caller == "sandbox-token":
        headers = through_sandbox_gateway(mint_token(SECRET, user=user_id, agent="sandbox"))
    else:
        # Even a service account the api entry point trusts is no direct caller here.
        headers = {"Authorization": f"Bearer {google_id_token('indexer@proj.iam.gserviceaccount.com')}"}
    body = {"identity": {"userId": f"{user_id}-victim", "agentName": "x"}, "key": "k", "value": 1}
    response = sandbox_app("set").post("/", json=body, headers=headers)
    if caller == "sandbox-token":
        assert response.status_code == 400
        error = response.get_json()["error"]
        assert error["code"] == "invalid_request" and "identity" in json.dumps(error)
    else:
        assert response.status_code == 401 and response.get_json()["error"]["code"] == "unauthorized"
    assert "statusCode" not in response.get_json()


def test_sandbox_refuses_expired_and_foreign_tokens(sandbox_app, user_id):
    expired = jwt.encode(
        {"sub": user_id, "agent": "sandbox", "iat": 1_000_000_000, "exp": 1_000_000_060},
        SECRET,
        algorithm="HS256",
        headers={"kid": "k1"},
    )
    foreign = mint_token("another-secret-of-at-least-thirty-two-bytes", user=user_id, agent="sandbox")
    for token in (expired, foreign):
        response = sandbox_app("get").post("/", json={"key": "k"}, headers=through_sandbox_gateway(token))
        assert response.status_code == 401 and response.get_json()["error"]["code"] == "unauthorized"
