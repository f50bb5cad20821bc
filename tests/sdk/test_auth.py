"""Capability tokens against a real server process with DATASTORE_AUTH=token."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from agent_datastore.core.errors import BackendUnavailable, Unauthorized
from agent_datastore.core.settings import Settings
from agent_datastore.edges import auth
from agent_datastore.edges.aws import secrets as aws_secrets
from agent_datastore.edges.local.proxy import MintingCredential
from agent_datastore_sdk import DataStore, Forbidden
from agent_datastore_sdk import Unauthorized as SdkUnauthorized
from tests.sdk.conftest import SECRET, SECRET_K2, mint, raw_token
from tests.servers import Unavailable, free_port, spawn, wait_http
from tests.support.server import ROOT, running_server


def claims(user: str, **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": user, "agent": "a", "iat": now, "exp": now + 300, **extra}


def status_with(server: Any, token: str | None) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}".strip()} if token is not None else {}
    return httpx.post(f"{server.url}/v1/list_namespaces", content=b"{}", headers=headers, timeout=10)


def test_a_valid_token_is_accepted(server: Any, user_id: str) -> None:
    response = status_with(server, mint(user_id))
    assert response.status_code == 200, response.text
    assert response.json() == {"namespaces": []}


def hand_signed(header: dict[str, Any], payload: dict[str, Any], secret: str = SECRET) -> str:
    """A token PyJWT would refuse to produce, signed correctly with the server's secret."""

    def part(data: Any) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    signing_input = f"{part(header)}.{part(payload)}"
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


def refused_tokens(user: str) -> dict[str, str | None]:
    now = int(time.time())
    good = mint(user)
    header, payload, signature = good.split(".")
    forged_payload = raw_token(claims("victim")).split(".")[1]
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    return {
        "missing": None,
        "empty": "",
        "garbage": "not-a-token",
        "expired": raw_token({"sub": user, "agent": "a", "exp": now - 5}),
        "forged-claims": f"{header}.{forged_payload}.{signature}",
        "forged-signature": f"{header}.{payload}.{flipped}",
        "wrong-secret": raw_token(claims(user), secret="another-secret-that-is-long-enough-0123"),
        "alg-none": raw_token(claims(user), secret="", algorithm="none"),
        "alg-none-no-signature": raw_token(claims(user), secret="", algorithm="none").rstrip(".") + ".",
        "hs512": raw_token(claims(user), algorithm="HS512"),
        "no-exp": raw_token({"sub": user, "agent": "a"}),
        "no-sub": raw_token({"agent": "a", "exp": now + 300}),
        "empty-sub": raw_token(claims("")),
        "unknown-kid": raw_token(claims(user), kid="k9"),
        "kid-not-a-string": hand_signed({"alg": "HS256", "kid": ["k1"]}, claims(user)),
        "kid-null": hand_signed({"alg": "HS256", "kid": None}, claims(user)),
        "header-not-an-object": hand_signed(["HS256"], claims(user)),  # type: ignore[arg-type]
        "k2-kid-with-k1-secret": raw_token(claims(user), kid="k2"),
        "not-yet-valid": raw_token(claims(user, nbf=now + 600)),
        "bad-ns-prefix": raw_token(claims(user, ns_prefix=5)),
        "bad-read-only": raw_token(claims(user, read_only="yes")),
    }


with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    CASES = list(refused_tokens("u"))


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
@pytest.mark.parametrize("case", CASES)
def test_bad_tokens_are_refused_with_401(server: Any, user_id: str, case: str) -> None:
    token = refused_tokens(user_id)[case]
    response = status_with(server, token)
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "unauthorized"


def test_the_sdk_raises_unauthorized_for_an_expired_token(server: Any, user_id: str) -> None:
    expired = raw_token({"sub": user_id, "agent": "a", "exp": int(time.time()) - 1})
    with DataStore(server.url, expired) as store, pytest.raises(SdkUnauthorized) as refused:
        store.get("k")
    assert refused.value.status == 401


def test_rotation_both_kids_are_valid(server: Any, user_id: str) -> None:
    old = auth.mint_token(SECRET, user=user_id, agent="a", kid="k1")
    new = auth.mint_token(SECRET_K2, user=user_id, agent="a", kid="k2")
    with DataStore(server.url, old) as first, DataStore(server.url, new) as second:
        first.set("k", "by-old")
        assert second.get("k") == "by-old"


def test_the_agent_comes_from_the_token_not_a_header(server: Any, user_id: str) -> None:
    token = mint(user_id, "real-agent")
    response = httpx.post(
        f"{server.url}/v1/set",
        content=json.dumps({"key": "k", "value": 1}),
        headers={"authorization": f"Bearer {token}", "x-agent-name": "spoofed", "x-user-id": "victim"},
    )
    assert response.status_code == 200
    with DataStore(server.url, token) as store:
        record = store.get_record("k")
    assert record is not None and record.created_by_agent == "real-agent" and record.user_id == user_id


# -- the token command -----------------------------------------------------------


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    child_env = {**os.environ, "DATASTORE_TOKEN_SECRET": SECRET, "DATASTORE_TOKEN_SECRETS": f"k2={SECRET_K2}"}
    child_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "agent_datastore.cli", *args],
        capture_output=True,
        text=True,
        env=child_env,
        cwd=ROOT,
        timeout=60,
    )


def test_token_mint_command(server: Any, user_id: str) -> None:
    minted = cli("token", "mint", "--user", user_id, "--agent", "cli-agent", "--ttl", "900", "--ns-prefix", "team:")
    assert minted.returncode == 0, minted.stderr
    token = minted.stdout.strip()
    assert auth.verify_token(token, {"k1": SECRET}) == auth.Identity(user_id, "cli-agent", "team:", False)
    with DataStore(server.url, token) as store:
        store.use_namespace("team:a").set("k", 1)
        record = store.use_namespace("team:a").get_record("k")
        assert record is not None and record.created_by_agent == "cli-agent"
        with pytest.raises(Forbidden):
            store.get("k")  # namespace "default" is outside team:
    read_only = cli("token", "mint", "--user", user_id, "--agent", "r", "--read-only", "--kid", "k2").stdout.strip()
    with DataStore(server.url, read_only) as store:
        assert store.use_namespace("team:a").get("k") == 1
        with pytest.raises(Forbidden):
            store.set("k", 2)
    verified = cli("token", "verify", read_only)
    assert json.loads(verified.stdout) == {
        "valid": True,
        "user": user_id,
        "agent": "r",
        "ns_prefix": None,
        "read_only": True,
    }
    assert cli("token", "verify", "garbage").returncode == 1
    assert cli("token", "mint", "--user", "u", "--agent", "a", "--kid", "k7").returncode == 2
    no_secrets = {"DATASTORE_TOKEN_SECRET": "", "DATASTORE_TOKEN_SECRETS": ""}
    no_secret = cli("token", "mint", "--user", "u", "--agent", "a", env=no_secrets)
    assert no_secret.returncode == 2 and "DATASTORE_TOKEN_SECRET" in no_secret.stderr


# -- secrets from AWS ------------------------------------------------------------------


def test_secret_parsing() -> None:
    assert auth.parse_secrets("plain") == {"k1": "plain"}
    assert auth.parse_secrets("k2=new, k1=old") == {"k2": "new", "k1": "old"}
    assert auth.parse_secrets('{"k3": "a", "k2": "b"}') == {"k3": "a", "k2": "b"}
    with pytest.raises(ValueError):
        auth.parse_secrets('{"k1": 5}')
    settings = Settings(token_secret="k2=new", token_secrets_extra="k1=old")
    assert auth.signing_secret(settings) == ("k2", "new")
    assert auth.signing_secret(settings, "k1") == ("k1", "old")
    with pytest.raises(ValueError):
        auth.signing_secret(Settings())


def test_secret_cache_fetches_lazily_and_refetches_for_an_unknown_kid(monkeypatch: pytest.MonkeyPatch) -> None:
    fetched: list[str] = []
    stored = {"text": "k1=" + SECRET}
    now = [1000.0]
    monkeypatch.setattr(aws_secrets.time, "monotonic", lambda: now[0])

    def fetch(settings: Settings) -> str:
        fetched.append(settings.token_secret_arn)
        return stored["text"]

    cache = aws_secrets.SecretCache(ttl=300, min_refresh=30, fetch=fetch)
    settings = Settings(auth="token", token_secret_arn="arn:aws:secretsmanager:us-east-1:1:secret:x")
    assert fetched == []  # nothing at construction
    headers = {"authorization": f"Bearer {mint('u')}"}
    assert auth.authenticate(settings, headers, None, cache).user_id == "u"
    assert auth.authenticate(settings, headers, None, cache).user_id == "u"
    assert len(fetched) == 1  # cached
    # Rotation: the stored secret gains k2 and a k2 token arrives.
    stored["text"] = f"k2={SECRET_K2},k1={SECRET}"
    rotated = {"authorization": f"Bearer {auth.mint_token(SECRET_K2, user='u', agent='a', kid='k2')}"}
    with pytest.raises(Unauthorized):
        auth.authenticate(settings, rotated, None, cache)  # too soon to refetch: no stampede on bad kids
    now[0] += 31
    assert auth.authenticate(settings, rotated, None, cache).user_id == "u"
    assert len(fetched) == 2
    now[0] += 301
    auth.authenticate(settings, headers, None, cache)
    assert len(fetched) == 3  # expired from the cache


def test_an_unreachable_secret_store_is_503_not_500(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(settings: Settings) -> str:
        raise BackendUnavailable("the token secret could not be fetched")

    settings = Settings(auth="token", token_secret_parameter="/ds/secret")
    with pytest.raises(BackendUnavailable):
        auth.authenticate(settings, {"authorization": f"Bearer {mint('u')}"}, None, aws_secrets.SecretCache(fetch=fail))


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real moto server (AWS protocol) on 127.0.0.1 for Secrets Manager and SSM."""
    binary = os.path.join(os.path.dirname(sys.executable), "moto_server")
    if not os.path.exists(binary):
        pytest.skip(str(Unavailable("moto_server is not installed (moto[server])")))
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    process = spawn([binary, "-H", "127.0.0.1", "-p", str(port)], log)
    try:
        wait_http(f"http://127.0.0.1:{port}/moto-api/", process, log, timeout=60)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.mark.parametrize("source", ["secretsmanager", "ssm"])
def test_server_reads_the_secret_from_aws(moto: str, source: str, user_id: str) -> None:
    import boto3

    secret = f"aws-held-secret-{source}-0123456789abcdef"
    # The standard endpoint variables are named after the service id: "Secrets Manager" -> SECRETS_MANAGER.
    variable = {"secretsmanager": "AWS_ENDPOINT_URL_SECRETS_MANAGER", "ssm": "AWS_ENDPOINT_URL_SSM"}[source]
    env = {**AWS_ENV, variable: moto, "DATASTORE_AUTH": "token"}
    client = boto3.client(source, endpoint_url=moto, region_name="us-east-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing")  # fmt: skip
    if source == "secretsmanager":
        arn = client.create_secret(Name=f"ds-{user_id}", SecretString=json.dumps({"k5": secret}))["ARN"]
        env["DATASTORE_TOKEN_SECRET_ARN"] = arn
    else:
        name = f"/ds/{user_id}"
        client.put_parameter(Name=name, Value=f"k5={secret}", Type="SecureString")
        env["DATASTORE_TOKEN_SECRET_PARAMETER"] = name
    env.update({"DATASTORE_TOKEN_SECRET": "", "DATASTORE_TOKEN_SECRETS": ""})
    with running_server(env=env) as running:
        good = auth.mint_token(secret, user=user_id, agent="a", kid="k5")
        assert status_with(running, good).status_code == 200
        assert status_with(running, mint(user_id)).status_code == 401  # k1 is not configured there


def test_minting_credential_re_mints_before_expiry() -> None:
    now = [1_000_000.0]
    credential = MintingCredential(SECRET, "k1", "u", "a", ttl_seconds=300, clock=lambda: now[0])
    first = credential.token()
    assert credential.token() == first
    now[0] += 300 - 61  # more than the margin (60 s) left: still the same token
    assert credential.token() == first
    now[0] += 2  # inside the margin: a fresh token
    time.sleep(1.1)  # iat/exp are whole seconds of the real clock
    second = credential.token()
    assert second != first
    assert auth.verify_token(second, {"k1": SECRET}).user_id == "u"
