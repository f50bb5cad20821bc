"""Verified identities: capability tokens, gateway JWT claims, local headers.

Capability tokens (API.md section 5) are HS256 JWTs signed with the
server-side secret: `sub` = user, `agent`, `exp`, optional `ns_prefix` and
`read_only`, and a `kid` naming the secret so two can be valid during a
rotation. PyJWT does the cryptography.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import jwt

from agent_datastore.core.errors import BackendUnavailable, Unauthorized
from agent_datastore.core.identity import Identity
from agent_datastore.core.settings import Settings

DEFAULT_KID = "k1"
DEFAULT_AGENT = "api"
LOCAL_USER = "local"

logger = logging.getLogger("agent_datastore.edges.auth")


class UnknownKey(Unauthorized):
    """The token names a `kid` this server does not hold (still a 401 to the caller)."""


def parse_secrets(text: str) -> dict[str, str]:
    """kid -> secret from one configuration text, in the order written (the first one signs).

    Either a JSON object `{"k2": "...", "k1": "..."}` (the usual Secrets Manager
    shape) or comma-separated entries `kid=secret`; a bare secret is kid `k1`.
    """
    text = text.strip()
    if text.startswith("{"):
        try:
            decoded = json.loads(text)
        except ValueError:
            raise ValueError("the token secret looks like JSON but does not parse") from None
        if not isinstance(decoded, dict) or not all(isinstance(v, str) and v for v in decoded.values()):
            raise ValueError("a JSON token secret must be an object of kid: secret strings")
        return {str(kid): secret for kid, secret in decoded.items()}
    secrets: dict[str, str] = {}
    for raw in text.split(","):
        entry = raw.strip()
        if not entry:
            continue
        kid, sep, secret = entry.partition("=")
        if sep and kid and secret:
            secrets.setdefault(kid, secret)
        else:
            secrets.setdefault(DEFAULT_KID, entry)
    return secrets


class SecretCache:
    """Secrets fetched from AWS, kept for `ttl` seconds; an unknown `kid` refetches early
    (at most every `min_refresh` seconds) so a rotation is picked up at once."""

    def __init__(self, ttl: float = 300.0, min_refresh: float = 30.0, fetch: Callable[[Settings], str] | None = None):
        self.ttl, self.min_refresh = ttl, min_refresh
        self.fetch = fetch or fetch_remote_secret
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], tuple[float, dict[str, str]]] = {}

    def get(self, settings: Settings, *, refresh: bool = False) -> dict[str, str]:
        source = (settings.token_secret_arn, settings.token_secret_parameter)
        with self._lock:
            now = time.monotonic()
            cached = self._entries.get(source)
            if cached is not None:
                age = now - cached[0]
                if age < self.ttl and not (refresh and age >= self.min_refresh):
                    return cached[1]
            try:
                secrets = parse_secrets(self.fetch(settings))
            except ValueError as exc:
                raise BackendUnavailable(f"the token secret is malformed: {exc}") from None
            self._entries[source] = (now, secrets)
            return secrets

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def fetch_remote_secret(settings: Settings) -> str:
    """The secret text from Secrets Manager (`DATASTORE_TOKEN_SECRET_ARN`) or SSM
    (`DATASTORE_TOKEN_SECRET_PARAMETER`, SecureString). Endpoints follow the standard
    variables (`AWS_ENDPOINT_URL_SECRETS_MANAGER`, `AWS_ENDPOINT_URL_SSM`)."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        if settings.token_secret_arn:
            answer = boto3.client("secretsmanager").get_secret_value(SecretId=settings.token_secret_arn)
            return str(answer["SecretString"])
        answer = boto3.client("ssm").get_parameter(Name=settings.token_secret_parameter, WithDecryption=True)
        return str(answer["Parameter"]["Value"])
    except (BotoCoreError, ClientError) as exc:
        logger.warning("could not fetch the token secret: %s", exc)
        raise BackendUnavailable("the token secret could not be fetched; try again shortly") from None


SECRET_CACHE = SecretCache()


def token_secrets(settings: Settings, *, refresh: bool = False) -> dict[str, str]:
    """kid -> secret, the signing one first: DATASTORE_TOKEN_SECRET (kid `k1` unless written
    `kid=secret`), then DATASTORE_TOKEN_SECRETS (more `kid=secret` pairs, comma-separated),
    then the secret(s) from Secrets Manager / SSM when configured."""
    secrets = parse_secrets(settings.token_secret)
    for kid, secret in parse_secrets(settings.token_secrets_extra).items():
        secrets.setdefault(kid, secret)
    if settings.token_secret_arn or settings.token_secret_parameter:
        for kid, secret in SECRET_CACHE.get(settings, refresh=refresh).items():
            secrets.setdefault(kid, secret)
    return secrets


def signing_secret(settings: Settings, kid: str | None = None) -> tuple[str, str]:
    """(kid, secret) that new tokens are signed with: the one named, else the first configured."""
    secrets = token_secrets(settings)
    if not secrets:
        raise ValueError("no token secret: set DATASTORE_TOKEN_SECRET (or _SECRET_ARN / _SECRET_PARAMETER)")
    if kid is None:
        kid = next(iter(secrets))
    if kid not in secrets:
        raise ValueError(f"no token secret with kid {kid!r} (known: {', '.join(secrets)})")
    return kid, secrets[kid]


def mint_token(
    secret: str,
    *,
    user: str,
    agent: str,
    ttl_seconds: int = 900,
    ns_prefix: str | None = None,
    read_only: bool = False,
    kid: str = DEFAULT_KID,
) -> str:
    if ttl_seconds <= 0:
        raise ValueError("ttl_seconds must be positive")
    now = int(time.time())
    claims: dict[str, Any] = {"sub": user, "agent": agent, "iat": now, "exp": now + ttl_seconds}
    if ns_prefix is not None:
        claims["ns_prefix"] = ns_prefix
    if read_only:
        claims["read_only"] = True
    return jwt.encode(claims, secret, algorithm="HS256", headers={"kid": kid})


def verify_token(token: str, secrets: Mapping[str, str]) -> Identity:
    if not secrets:
        raise Unauthorized("capability tokens are not enabled on this server")
    try:
        # Only HS256 is accepted: `alg: none` and every other algorithm fail in decode.
        kid = jwt.get_unverified_header(token).get("kid", DEFAULT_KID)
        secret = secrets.get(kid) if isinstance(kid, str) else None
        if secret is None:
            raise UnknownKey("token was signed with an unknown key")
        claims = jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["sub", "exp"]})
    except jwt.ExpiredSignatureError:
        raise Unauthorized("token has expired") from None
    except jwt.PyJWTError:
        raise Unauthorized("token is not valid") from None
    return _identity_from_claims(claims)


def _identity_from_claims(claims: Mapping[str, Any]) -> Identity:
    user, agent = claims.get("sub"), claims.get("agent", DEFAULT_AGENT)
    ns_prefix, read_only = claims.get("ns_prefix"), claims.get("read_only", False)
    if not isinstance(user, str) or not user:
        raise Unauthorized("token has no subject")
    if not isinstance(agent, str) or not agent:
        raise Unauthorized("token names no agent")
    if ns_prefix is not None and not isinstance(ns_prefix, str):
        raise Unauthorized("token has a malformed ns_prefix")
    if not isinstance(read_only, bool):
        raise Unauthorized("token has a malformed read_only")
    return Identity(user, agent, ns_prefix, read_only)


def bearer(headers: Mapping[str, str]) -> str | None:
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _gateway_claims(request_context: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """Claims a gateway verified, as API Gateway (HTTP API JWT authorizer) puts them
    in the event. Headers are never read for this: a client can send any header."""
    claims = (request_context.get("authorizer") or {}).get("jwt", {}).get("claims")
    return claims if isinstance(claims, Mapping) else None


def _authorizer_context(request_context: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """What the AWS Lambda authorizer (`aws_authorizer`) answered, as API Gateway puts it in the event."""
    context = (request_context.get("authorizer") or {}).get("lambda")
    return context if isinstance(context, Mapping) else None


def identity_from_authorizer(context: Mapping[str, Any], agent: str) -> Identity:
    """Identity the Lambda authorizer verified. A capability token names its agent, scope and
    expiry; a platform JWT leaves the agent to `X-Agent-Name` (`agent`), as with the JWT authorizer.
    The gateway caches the answer for a few seconds, so the expiry is checked again here."""
    denied = context.get("denied")
    if denied is not None:
        raise Unauthorized(str(denied))
    user, named, ns_prefix = context.get("userId"), context.get("agentName"), context.get("nsPrefix")
    read_only, expires = context.get("readOnly", False), context.get("expiresAt", math.inf)
    if isinstance(read_only, str):  # should API Gateway ever pass context values on as text
        read_only = {"true": True, "false": False}.get(read_only, read_only)
    if isinstance(expires, str) and expires.isdigit():
        expires = int(expires)
    if not (
        isinstance(user, str)
        and isinstance(named, (str, type(None)))
        and isinstance(ns_prefix, (str, type(None)))
        and isinstance(read_only, bool)
        and isinstance(expires, (int, float))
        and not isinstance(expires, bool)
    ):
        raise Unauthorized("the authorizer's answer is malformed")
    if expires <= time.time():
        raise Unauthorized("token has expired")
    return Identity(user, agent if named is None else named, ns_prefix, read_only)


def claims_from_userinfo(userinfo: str) -> Mapping[str, Any]:
    """Google API Gateway's `X-Apigateway-Api-Userinfo` (base64url JSON of the verified
    claims). Only the GCP adapter calls this, for requests that came through the gateway."""
    try:
        decoded = json.loads(base64.urlsafe_b64decode(userinfo + "=" * (-len(userinfo) % 4)))
    except (binascii.Error, ValueError):
        raise Unauthorized("gateway user info is malformed") from None
    if not isinstance(decoded, Mapping):
        raise Unauthorized("gateway user info is malformed")
    return decoded


def authenticate(settings: Settings, headers: Mapping[str, str], request_context: Mapping[str, Any]) -> Identity:
    """Identity of an HTTP request. `headers` must have lower-case names."""
    agent = headers.get("x-agent-name") or DEFAULT_AGENT
    if settings.auth == "none":
        return Identity(headers.get("x-user-id") or LOCAL_USER, agent)
    if settings.auth == "gateway":
        context = _authorizer_context(request_context)
        if context is not None:
            return identity_from_authorizer(context, agent)
        claims = _gateway_claims(request_context)
        if claims is not None:
            sub = claims.get("sub")
            if not isinstance(sub, str) or not sub:
                raise Unauthorized("verified claims carry no subject")
            return Identity(sub, agent)
    token = bearer(headers)
    if token is None:
        raise Unauthorized("missing credentials: send Authorization: Bearer <token>")
    return verify_capability(settings, token)


def verify_capability(settings: Settings, token: str) -> Identity:
    """A capability token checked against the configured secrets (refetched once for an unknown kid)."""
    try:
        return verify_token(token, token_secrets(settings))
    except UnknownKey:
        if not (settings.token_secret_arn or settings.token_secret_parameter):
            raise
        # A kid minted right after a rotation: look at the stored secret again.
        return verify_token(token, token_secrets(settings, refresh=True))


def direct_identity(identity: Any) -> Identity:
    """Identity of a direct invocation by a trusted service."""
    if not isinstance(identity, Mapping):
        raise Unauthorized("direct invocation needs an identity object with userId")
    user, agent = identity.get("userId"), identity.get("agentName") or DEFAULT_AGENT
    if not isinstance(user, str) or not user or not isinstance(agent, str):
        raise Unauthorized("identity.userId must be a non-empty string")
    ns_prefix, read_only = identity.get("nsPrefix"), identity.get("readOnly", False)
    if (ns_prefix is not None and not isinstance(ns_prefix, str)) or not isinstance(read_only, bool):
        raise Unauthorized("identity.nsPrefix must be a string and identity.readOnly a boolean")
    return Identity(user, agent, ns_prefix, read_only)
