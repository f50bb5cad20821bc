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
import time
from collections.abc import Mapping
from typing import Any

import jwt

from .errors import Unauthorized
from .identity import Identity
from .settings import Settings

DEFAULT_KID = "k1"
DEFAULT_AGENT = "api"
LOCAL_USER = "local"


def token_secrets(settings: Settings) -> dict[str, str]:
    """kid -> secret: DATASTORE_TOKEN_SECRET is `k1` unless written `kid=secret`;
    DATASTORE_TOKEN_SECRETS adds more `kid=secret` pairs, comma-separated."""
    secrets: dict[str, str] = {}
    for entry in [settings.token_secret, *settings.token_secrets_extra.split(",")]:
        entry = entry.strip()
        if not entry:
            continue
        kid, sep, secret = entry.partition("=")
        if sep and kid and secret:
            secrets[kid] = secret
        else:
            secrets.setdefault(DEFAULT_KID, entry)
    return secrets


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
        kid = jwt.get_unverified_header(token).get("kid", DEFAULT_KID)
        secret = secrets.get(kid)
        if secret is None:
            raise Unauthorized("token was signed with an unknown key")
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


def _gateway_claims(headers: Mapping[str, str], request_context: Mapping[str, Any]) -> Mapping[str, Any] | None:
    # AWS HTTP API JWT authorizer.
    claims = (request_context.get("authorizer") or {}).get("jwt", {}).get("claims")
    if isinstance(claims, Mapping):
        return claims
    # Google API Gateway: base64url JSON of the verified claims.
    userinfo = headers.get("x-apigateway-api-userinfo")
    if userinfo:
        try:
            decoded = json.loads(base64.urlsafe_b64decode(userinfo + "=" * (-len(userinfo) % 4)))
        except (binascii.Error, ValueError):
            raise Unauthorized("gateway user info is malformed") from None
        if isinstance(decoded, Mapping):
            return decoded
    return None


def authenticate(settings: Settings, headers: Mapping[str, str], request_context: Mapping[str, Any]) -> Identity:
    """Identity of an HTTP request. `headers` must have lower-case names."""
    agent = headers.get("x-agent-name") or DEFAULT_AGENT
    if settings.auth == "none":
        return Identity(headers.get("x-user-id") or LOCAL_USER, agent)
    if settings.auth == "gateway":
        claims = _gateway_claims(headers, request_context)
        if claims is not None:
            sub = claims.get("sub")
            if not isinstance(sub, str) or not sub:
                raise Unauthorized("verified claims carry no subject")
            return Identity(sub, agent)
    token = bearer(headers)
    if token is None:
        raise Unauthorized("missing credentials: send Authorization: Bearer <token>")
    return verify_token(token, token_secrets(settings))


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
