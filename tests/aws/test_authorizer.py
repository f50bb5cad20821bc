"""The HTTP API's Lambda authorizer: capability tokens and platform JWTs in, a simple response out,
and its context through the real function handlers as API Gateway hands it on."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest

from agent_datastore.core.errors import BackendUnavailable
from agent_datastore.core.settings import Settings
from agent_datastore.edges import auth
from agent_datastore.edges.aws.authorizer import JwksClients, authorize

from .test_handlers import EVENTS, context, load_app

pytest.importorskip("cryptography", reason="PyJWT needs cryptography for RS256/ES256")

from cryptography.hazmat.primitives.asymmetric import ec, rsa

SECRET = "k1=capability-secret-one-of-32-bytes-at-least"
AUDIENCE = "agent-datastore"


class Keys:
    """An RSA and an EC key pair, published as a JWKS by a tiny HTTP server on 127.0.0.1."""

    def __init__(self) -> None:
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.requests = 0
        keys = [
            {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.rsa.public_key())), "kid": "rsa-1", "alg": "RS256"},
            {**json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.ec.public_key())), "kid": "ec-1", "alg": "ES256"},
        ]
        body = json.dumps({"keys": keys}).encode()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests += 1
                if self.path != "/.well-known/jwks.json":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def token(self, key: str = "rsa", **overrides: Any) -> str:
        now = int(time.time())
        claims = {"sub": "platform-user", "iss": self.issuer, "aud": AUDIENCE, "iat": now, "exp": now + 300}
        claims.update(overrides)
        claims = {name: value for name, value in claims.items() if value is not None}
        private, algorithm = (self.rsa, "RS256") if key == "rsa" else (self.ec, "ES256")
        return jwt.encode(claims, private, algorithm=algorithm, headers={"kid": f"{key}-1"})


@pytest.fixture(scope="module")
def keys() -> Iterator[Keys]:
    served = Keys()
    yield served
    served.server.shutdown()
    served.server.server_close()


@pytest.fixture
def settings(keys: Keys) -> Settings:
    return Settings(auth="gateway", token_secret=SECRET, jwt_issuer=keys.issuer, jwt_audience=f"other, {AUDIENCE}")


def request(token: str | None, agent: str | None = None) -> dict[str, Any]:
    """An authorizer event, payload format 2.0, as API Gateway sends it."""
    headers = {"content-type": "application/json"}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    if agent is not None:
        headers["x-agent-name"] = agent
    return {
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/$default/POST/v1/get",
        "identitySource": [headers.get("authorization", "")],
        "routeKey": "POST /v1/get",
        "rawPath": "/v1/get",
        "headers": headers,
        "requestContext": {"http": {"method": "POST", "path": "/v1/get"}, "routeKey": "POST /v1/get"},
    }


def capability(**overrides: Any) -> str:
    secret = overrides.pop("secret", "capability-secret-one-of-32-bytes-at-least")
    headers = {"kid": overrides.pop("kid", "k1")}
    now = int(time.time())
    claims = {"sub": "user-7f3a9c", "agent": "indexer", "iat": now, "exp": now + 300, **overrides}
    return jwt.encode(claims, secret, algorithm="HS256", headers=headers)


def hs256_by_hand(header: dict[str, Any], claims: dict[str, Any], key: bytes) -> str:
    """PyJWT refuses to sign with a key that looks like a public key; an attacker would not."""

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = f"{part(json.dumps(header).encode())}.{part(json.dumps(claims).encode())}"
    return f"{signing_input}.{part(hmac.new(key, signing_input.encode(), hashlib.sha256).digest())}"


# -- capability tokens ---------------------------------------------------


def assert_denied(answer: dict[str, Any]) -> None:
    """A denial reaches the function only as a reason, with no identity in it."""
    assert answer["isAuthorized"] is True
    assert set(answer["context"]) == {"denied"} and isinstance(answer["context"]["denied"], str)


def test_a_capability_token_is_allowed_with_its_identity(settings):
    token = auth.mint_token(
        "capability-secret-one-of-32-bytes-at-least", user="u1", agent="indexer", ns_prefix="notes", read_only=True
    )
    answer = authorize(request(token, agent="someone-else"), settings, JwksClients())
    assert answer["isAuthorized"] is True
    context_ = answer["context"]
    assert {name: context_[name] for name in ("userId", "agentName", "nsPrefix", "readOnly")} == {
        "userId": "u1",
        "agentName": "indexer",  # from the token, never from X-Agent-Name
        "nsPrefix": "notes",
        "readOnly": True,
    }
    assert time.time() < context_["expiresAt"] <= time.time() + 900
    plain = authorize(request(capability()), settings, JwksClients())["context"]
    assert plain["readOnly"] is False and "nsPrefix" not in plain


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(capability(exp=int(time.time()) - 5), id="expired"),
        pytest.param(capability(secret="another-secret-of-32-bytes-at-least-too"), id="forged"),
        pytest.param(capability(kid="k9"), id="wrong-kid"),
        pytest.param(
            jwt.encode({"sub": "u1", "agent": "a", "exp": int(time.time()) + 300}, None, "none"), id="alg-none"
        ),
        pytest.param(
            jwt.encode(
                {"sub": "u1", "exp": int(time.time()) + 300}, "capability-secret-one-of-32-bytes-at-least", "HS512"
            ),
            id="hs512",
        ),
        pytest.param(capability(sub=""), id="no-subject"),
        pytest.param(capability(read_only="yes"), id="malformed-read-only"),
        pytest.param("not-a-jwt", id="garbage"),
    ],
)
def test_bad_capability_tokens_are_denied(settings, token):
    assert_denied(authorize(request(token), settings, JwksClients()))


def test_no_or_non_bearer_credentials_are_denied(settings):
    assert_denied(authorize(request(None), settings, JwksClients()))
    basic = request(None)
    basic["headers"]["authorization"] = "Basic dTE6cHc="
    assert_denied(authorize(basic, settings, JwksClients()))
    assert_denied(authorize("not an event", settings, JwksClients()))


def test_capability_tokens_are_denied_when_no_secret_is_configured(keys):
    bare = Settings(auth="gateway", jwt_issuer=keys.issuer, jwt_audience=AUDIENCE)
    assert_denied(authorize(request(capability()), bare, JwksClients()))


# -- platform JWTs from the issuer's JWKS --------------------------------


@pytest.mark.parametrize("key", ["rsa", "ec"])
def test_a_platform_jwt_is_allowed_with_its_subject(settings, keys, key):
    answer = authorize(request(keys.token(key), agent="indexer"), settings, JwksClients())
    assert answer["isAuthorized"] is True
    assert answer["context"]["userId"] == "platform-user"
    # The agent is the request's X-Agent-Name, read by the function: the gateway caches this
    # answer per Authorization header, and that header may change between calls.
    assert set(answer["context"]) == {"userId", "expiresAt"}


def test_audience_may_be_a_list_or_a_client_id(settings, keys):
    listed = keys.token(aud=["someone", AUDIENCE])
    client = keys.token(aud=None, client_id=AUDIENCE)
    for token in (listed, client):
        assert authorize(request(token), settings, JwksClients())["isAuthorized"] is True


def test_the_key_set_is_fetched_once_and_kept(settings, keys):
    clients = JwksClients()
    before = keys.requests
    for _ in range(3):
        assert authorize(request(keys.token()), settings, clients)["isAuthorized"] is True
    assert keys.requests - before == 1


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"iss": "https://evil.example.com"}, id="wrong-issuer"),
        pytest.param({"aud": "someone-else"}, id="wrong-audience"),
        pytest.param({"aud": None}, id="no-audience"),
        pytest.param({"exp": int(time.time()) - 5}, id="expired"),
        pytest.param({"sub": None}, id="no-subject"),
        pytest.param({"sub": "u" * 513}, id="user-id-too-long"),
    ],
)
def test_bad_platform_jwts_are_denied(settings, keys, overrides):
    assert_denied(authorize(request(keys.token(**overrides)), settings, JwksClients()))


def test_platform_jwts_signed_by_another_key_or_confused_are_denied(settings, keys):
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    claims = {"sub": "u1", "iss": keys.issuer, "aud": AUDIENCE, "exp": now + 300}
    forged = jwt.encode(claims, stranger, algorithm="RS256", headers={"kid": "rsa-1"})
    unknown_kid = jwt.encode(claims, keys.rsa, algorithm="RS256", headers={"kid": "rsa-9"})
    # RSA key under the EC key's kid, and an HS256 token keyed with the public JWKS entry.
    wrong_type = jwt.encode(claims, keys.rsa, algorithm="RS256", headers={"kid": "ec-1"})
    public = jwt.algorithms.RSAAlgorithm.to_jwk(keys.rsa.public_key()).encode()
    confused = hs256_by_hand({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}, {**claims, "agent": "a"}, public)
    for token in (forged, unknown_kid, wrong_type, confused):
        assert_denied(authorize(request(token), settings, JwksClients()))


def test_platform_jwts_are_denied_without_an_issuer_and_audience(keys):
    for settings in (Settings(token_secret=SECRET), Settings(token_secret=SECRET, jwt_issuer=keys.issuer)):
        assert_denied(authorize(request(keys.token()), settings, JwksClients()))


def test_an_unreachable_key_set_is_an_error_not_a_denial(keys):
    # A denial would be cached by the gateway and look like a bad token; an error is a 500, not cached.
    settings = Settings(jwt_issuer=keys.issuer, jwt_audience=AUDIENCE, jwks_url="http://127.0.0.1:9/jwks.json")
    with pytest.raises(BackendUnavailable):
        authorize(request(keys.token()), settings, JwksClients())


def test_the_authorizer_app_reads_its_settings_from_the_environment(monkeypatch, keys):
    monkeypatch.setenv("DATASTORE_TOKEN_SECRET", SECRET)
    monkeypatch.setenv("DATASTORE_JWT_ISSUER", keys.issuer)
    monkeypatch.setenv("DATASTORE_JWT_AUDIENCE", AUDIENCE)
    monkeypatch.delenv("DATASTORE_TOKEN_SECRET_ARN", raising=False)
    monkeypatch.delenv("DATASTORE_JWKS_URL", raising=False)
    handler = load_app("authorizer").handler
    assert handler(request(capability()), context("authorizer"))["context"]["userId"] == "user-7f3a9c"
    assert handler(request(keys.token()), context("authorizer"))["context"]["userId"] == "platform-user"
    assert_denied(handler(request(capability(kid="k2")), context("authorizer")))


# -- end to end: the authorizer's context through the real functions -----


@pytest.fixture
def apps(monkeypatch, tmp_path: Path) -> dict[str, Any]:
    """The real functions/aws/{set,get}/app.py, configured through the environment, on one SQLite file."""
    monkeypatch.setenv("STORE_BACKEND", "sqlite")
    monkeypatch.setenv("SQLITE_PATH", str(tmp_path / "e2e.sqlite3"))
    monkeypatch.setenv("DATASTORE_AUTH", "gateway")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "1")
    # The functions hold no token secret: the identity must come from the authorizer's context.
    monkeypatch.delenv("DATASTORE_TOKEN_SECRET", raising=False)
    monkeypatch.delenv("DATASTORE_TOKEN_SECRET_ARN", raising=False)
    return {operation: load_app(operation) for operation in ("set", "get")}


def through_gateway(app: Any, answer: dict[str, Any], token: str, body: dict[str, Any], agent: str = "spoof"):
    """What API Gateway does after an allowing answer: the function's event carries the context."""
    assert answer["isAuthorized"] is True
    operation = "set" if "value" in body else "get"
    event = copy.deepcopy(json.loads((EVENTS / "http" / f"{operation}.json").read_text()))
    event["headers"]["authorization"] = f"Bearer {token}"
    event["headers"]["x-agent-name"] = agent
    event["headers"]["x-user-id"] = "spoofed-user"
    event["requestContext"]["authorizer"] = {"lambda": answer["context"]}
    event["body"] = json.dumps(body)
    result = app.handler(event, context(operation))
    return result["statusCode"], json.loads(result["body"])


def test_capability_identity_reaches_the_function(apps, settings):
    token = auth.mint_token(
        "capability-secret-one-of-32-bytes-at-least", user="u-e2e", agent="indexer", ns_prefix="notes"
    )
    answer = authorize(request(token), settings, JwksClients())
    status, body = through_gateway(apps["set"], answer, token, {"namespace": "notes", "key": "k", "value": 1})
    assert (status, body) == (200, {"version": 1, "created": True})
    status, body = through_gateway(
        apps["get"], answer, token, {"namespace": "notes", "key": "k", "include_record": True}
    )
    assert status == 200 and body["value"] == 1
    assert body["record"]["userId"] == "u-e2e" and body["record"]["createdByAgent"] == "indexer"


def test_ns_prefix_and_read_only_are_enforced_by_the_function(apps, settings):
    writer = auth.mint_token("capability-secret-one-of-32-bytes-at-least", user="u-scope", agent="a")
    answer = authorize(request(writer), settings, JwksClients())
    assert through_gateway(apps["set"], answer, writer, {"namespace": "other", "key": "k", "value": 1})[0] == 200
    scoped = auth.mint_token(
        "capability-secret-one-of-32-bytes-at-least", user="u-scope", agent="a", ns_prefix="notes", read_only=True
    )
    answer = authorize(request(scoped), settings, JwksClients())
    status, body = through_gateway(apps["get"], answer, scoped, {"namespace": "other", "key": "k"})
    assert status == 403 and body["error"]["code"] == "forbidden"
    status, body = through_gateway(apps["set"], answer, scoped, {"namespace": "notes", "key": "k", "value": 2})
    assert status == 403 and body["error"]["code"] == "forbidden"


def test_platform_identity_reaches_the_function_with_the_agent_header(apps, settings, keys):
    token = keys.token()
    answer = authorize(request(token), settings, JwksClients())
    status, _ = through_gateway(apps["set"], answer, token, {"namespace": "n", "key": "k", "value": 1}, "writer")
    assert status == 200
    status, body = through_gateway(apps["get"], answer, token, {"namespace": "n", "key": "k", "include_record": True})
    assert status == 200 and body["record"]["userId"] == "platform-user"
    assert body["record"]["createdByAgent"] == "writer"


def test_a_cached_answer_past_the_tokens_expiry_is_refused_by_the_function(apps, settings):
    token = auth.mint_token("capability-secret-one-of-32-bytes-at-least", user="u-late", agent="a")
    answer = authorize(request(token), settings, JwksClients())
    answer["context"]["expiresAt"] = int(time.time()) - 1  # as if the gateway's cache outlived the token
    status, body = through_gateway(apps["get"], answer, token, {"namespace": "n", "key": "k"})
    assert status == 401 and body["error"]["code"] == "unauthorized"


def test_a_malformed_context_is_a_401(apps, settings):
    token = capability()
    for broken in ({"agentName": "a"}, {"userId": "u", "readOnly": "maybe"}, {"userId": "u", "nsPrefix": 3}):
        status, body = through_gateway(apps["get"], {"isAuthorized": True, "context": broken}, token, {"key": "k"})
        assert status == 401 and body["error"]["code"] == "unauthorized", broken


def test_a_refused_credential_is_the_contracts_401_from_the_function(apps, settings, keys):
    expired = auth.mint_token("capability-secret-one-of-32-bytes-at-least", user="u-old", agent="a", ttl_seconds=1)
    time.sleep(1.1)
    forged = capability()[:-4] + "AAAA"
    for token, reason in [(expired, "expired"), (forged, "not valid"), (keys.token(aud="x"), "")]:
        answer = authorize(request(token), settings, JwksClients())
        assert_denied(answer)
        status, body = through_gateway(apps["get"], answer, token, {"key": "k"})
        assert status == 401, body
        assert body["error"]["code"] == "unauthorized" and reason in body["error"]["message"]
        assert set(body["error"]) == {"code", "message", "request_id"}
    # Nothing in a denial is an identity: not even with a user id smuggled in beside it.
    status, body = through_gateway(
        apps["get"], {"isAuthorized": True, "context": {"denied": "no", "userId": "u"}}, "t", {"key": "k"}
    )
    assert status == 401
