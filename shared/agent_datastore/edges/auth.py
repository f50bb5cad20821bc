"""Verified identities: capability tokens, what a gateway verified, local headers.

Capability tokens (API.md section 5) are HS256 JWTs signed with the
server-side secret: `sub` = user, `agent`, `exp`, optional `ns_prefix` and
`read_only`, and a `kid` naming the secret so two can be valid during a
rotation. PyJWT does the cryptography; it is imported only when a token is
minted or verified (a request the gateway verified never loads it, which a
Lambda cold start would pay for). What a gateway verified arrives in
the neutral forms of `edges.http` (each edge translates its own); secrets
kept outside the environment come from an injected `SecretSource`.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Protocol

from agent_datastore.core.errors import BackendUnavailable, Unauthorized
from agent_datastore.core.identity import Identity
from agent_datastore.core.settings import Settings, derive_cursor_secret
from agent_datastore.edges.http import AuthorizerAnswer, AuthorizerDenial, GatewayClaims, Verified

DEFAULT_KID = "k1"
DEFAULT_AGENT = "api"
LOCAL_USER = "local"


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


class SecretSource(Protocol):
    """Where the secrets named by DATASTORE_TOKEN_SECRET_ARN / _PARAMETER come from (the AWS
    edge and the commands inject one); `refresh` asks again, for a `kid` just rotated in."""

    def get(self, settings: Settings, *, refresh: bool = False) -> Mapping[str, str]: ...


def token_secrets(settings: Settings, remote: SecretSource | None = None, *, refresh: bool = False) -> dict[str, str]:
    """kid -> secret, the signing one first: DATASTORE_TOKEN_SECRET (kid `k1` unless written
    `kid=secret`), then DATASTORE_TOKEN_SECRETS (more `kid=secret` pairs, comma-separated),
    then the secret(s) `remote` holds when DATASTORE_TOKEN_SECRET_ARN / _PARAMETER name one."""
    secrets = parse_secrets(settings.token_secret)
    for kid, secret in parse_secrets(settings.token_secrets_extra).items():
        secrets.setdefault(kid, secret)
    if settings.token_secret_arn or settings.token_secret_parameter:
        if remote is None:
            raise ValueError("DATASTORE_TOKEN_SECRET_ARN / _PARAMETER are read only on AWS and by the CLI")
        for kid, secret in remote.get(settings, refresh=refresh).items():
            secrets.setdefault(kid, secret)
    return secrets


def signing_secret(settings: Settings, kid: str | None = None, remote: SecretSource | None = None) -> tuple[str, str]:
    """(kid, secret) that new tokens are signed with: the one named, else the first configured."""
    secrets = token_secrets(settings, remote)
    if not secrets:
        raise ValueError("no token secret: set DATASTORE_TOKEN_SECRET (or _SECRET_ARN / _SECRET_PARAMETER)")
    if kid is None:
        kid = next(iter(secrets))
    if kid not in secrets:
        raise ValueError(f"no token secret with kid {kid!r} (known: {', '.join(secrets)})")
    return kid, secrets[kid]


def with_remote_cursor_secret(settings: Settings, remote: SecretSource | None) -> Settings:
    """`settings` whose cursor secret is derived from the token secret kept in AWS (ARN or
    parameter), when neither a cursor secret nor a token secret is in the environment: every
    instance reading that secret keys cursors alike."""
    if settings.cursor_secret or settings.token_secret or remote is None:
        return settings
    if not (settings.token_secret_arn or settings.token_secret_parameter):
        return settings
    try:
        _, secret = signing_secret(settings, remote=remote)
    except ValueError as exc:
        raise BackendUnavailable("the token secret is empty") from exc
    return replace(settings, cursor_secret=derive_cursor_secret(secret))


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
    import jwt

    if ttl_seconds <= 0:
        raise ValueError("ttl_seconds must be positive")
    now = int(time.time())
    claims: dict[str, Any] = {"sub": user, "agent": agent, "iat": now, "exp": now + ttl_seconds}
    if ns_prefix is not None:
        claims["ns_prefix"] = ns_prefix
    if read_only:
        claims["read_only"] = True
    return jwt.encode(claims, secret, algorithm="HS256", headers={"kid": kid})


# Tokens this process verified: token -> (kid, secret it was verified with, its expiry, identity).
# A sandbox proxy sends the same token with every request until it re-mints it; checking the
# signature again each time costs more than a one-key call on SQLite. An entry holds only while
# its key is still configured with the same secret and the token has not expired (PyJWT's own
# rule: valid while now < exp); anything else is verified anew. Bounded: the oldest goes first.
VERIFIED_CACHE_SIZE = 1024
_verified: dict[str, tuple[str, str, float, Identity]] = {}
_verified_lock = threading.Lock()


def verify_token(token: str, secrets: Mapping[str, str]) -> Identity:
    import jwt

    if not secrets:
        raise Unauthorized("capability tokens are not enabled on this server")
    known = _verified.get(token)
    if known is not None and secrets.get(known[0]) == known[1] and time.time() < known[2]:
        return known[3]
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
    check_times(claims)
    identity = _identity_from_claims(claims)
    with _verified_lock:
        if len(_verified) >= VERIFIED_CACHE_SIZE:
            del _verified[next(iter(_verified))]
        _verified[token] = (kid, secret, float(claims["exp"]), identity)
    return identity


TIME_CLAIMS = ("exp", "iat", "nbf")


def check_times(claims: Mapping[str, Any]) -> None:
    """`exp`, `iat` and `nbf`, where present, are JSON numbers (RFC 7519 NumericDate). PyJWT reads
    them with `int()`, which also takes `"4102444800"` and `true`: such a token is refused here."""
    for name in TIME_CLAIMS:
        if name not in claims:
            continue
        value = claims[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise Unauthorized(f"token has a malformed {name}: it must be a number")


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


def identity_from_authorizer(answer: AuthorizerAnswer, agent: str) -> Identity:
    """Identity the Lambda authorizer verified. A capability token names its agent, scope and
    expiry; a platform JWT leaves the agent to `X-Agent-Name` (`agent`), as with the JWT authorizer.
    The gateway caches the answer for a few seconds, so the expiry is checked again here."""
    if answer.expires_at <= time.time():
        raise Unauthorized("token has expired")
    named = answer.agent_name
    return Identity(answer.user_id, agent if named is None else named, answer.ns_prefix, answer.read_only)


def authenticate(
    settings: Settings, headers: Mapping[str, str], verified: Verified, remote: SecretSource | None = None
) -> Identity:
    """Identity of an HTTP request: `headers` with lower-case names, `verified` what the edge's
    gateway checked (used only with DATASTORE_AUTH=gateway), `remote` for secrets kept outside
    the environment."""
    agent = headers.get("x-agent-name") or DEFAULT_AGENT
    if settings.auth == "none":
        return Identity(headers.get("x-user-id") or LOCAL_USER, agent)
    if settings.auth == "gateway":
        if isinstance(verified, AuthorizerDenial):
            raise Unauthorized(verified.reason)
        if isinstance(verified, AuthorizerAnswer):
            return identity_from_authorizer(verified, agent)
        if isinstance(verified, GatewayClaims):
            sub = verified.claims.get("sub")
            if not isinstance(sub, str) or not sub:
                raise Unauthorized("verified claims carry no subject")
            return Identity(sub, agent)
    token = bearer(headers)
    if token is None:
        raise Unauthorized("missing credentials: send Authorization: Bearer <token>")
    return verify_capability(settings, token, remote)


def verify_capability(settings: Settings, token: str, remote: SecretSource | None = None) -> Identity:
    """A capability token checked against the configured secrets (refetched once for an unknown kid)."""
    try:
        return verify_token(token, token_secrets(settings, remote))
    except UnknownKey:
        if not (settings.token_secret_arn or settings.token_secret_parameter):
            raise
        # A kid minted right after a rotation: look at the stored secret again.
        return verify_token(token, token_secrets(settings, remote, refresh=True))


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
