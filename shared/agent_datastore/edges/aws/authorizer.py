"""The AWS HTTP API's Lambda authorizer (REQUEST, payload format 2.0, simple responses).

Every route of the API is behind it (template.yaml), so both HTTPS callers of
API.md section 5 get through the one gateway:

- a **capability token** (HS256, the server-side secret, `kid` in the header),
  checked by `auth.verify_capability` exactly as the functions themselves
  would: the answer's context carries user, agent, `ns_prefix`, `read_only`
  and the expiry;
- a **platform JWT** of the configured issuer (RS256 or ES256 only), checked
  against the issuer's JWKS with PyJWT's `PyJWKClient`: the context carries
  the `sub`; the agent stays the request's `X-Agent-Name`, read by the function
  (the gateway caches this answer per Authorization header, and the agent
  header may differ between requests with the same JWT).

The functions take the identity from `requestContext.authorizer.lambda`
(`events.authorizer_answer`, then `auth.identity_from_authorizer`), never
from headers the client set. A
credential that fails is answered `{"isAuthorized": true, "context": {"denied":
reason}}`: the function then answers the contract's 401 `unauthorized` (API
Gateway's own denial would be a 403 outside the contract's error shape). A
secret or key set that cannot be fetched raises instead: the gateway answers
500 and, unlike a denial, does not cache it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

import jwt

from agent_datastore.core.errors import BackendUnavailable, Unauthorized
from agent_datastore.core.identity import Identity
from agent_datastore.core.settings import Settings
from agent_datastore.edges import auth
from agent_datastore.edges.aws.events import headers_of
from agent_datastore.edges.aws.secrets import SECRET_CACHE

PLATFORM_ALGORITHMS = ("RS256", "ES256")
JWKS_PATH = "/.well-known/jwks.json"

logger = logging.getLogger("agent_datastore.edges.aws.authorizer")


class JwksClients:
    """One `PyJWKClient` per JWKS URL, made on first use; each caches the key set for
    `lifespan` seconds and refetches it (at most every 30 s) when a token names an unknown key."""

    def __init__(self, lifespan: float = 300.0, timeout: float = 5.0) -> None:
        self.lifespan, self.timeout = lifespan, timeout
        self._lock = threading.Lock()
        self._clients: dict[str, jwt.PyJWKClient] = {}

    def get(self, url: str) -> jwt.PyJWKClient:
        with self._lock:
            client = self._clients.get(url)
            if client is None:
                client = jwt.PyJWKClient(url, cache_keys=True, lifespan=self.lifespan, timeout=self.timeout)
                self._clients[url] = client
            return client


JWKS_CLIENTS = JwksClients()


def jwks_url(settings: Settings) -> str:
    return settings.jwks_url or settings.jwt_issuer.rstrip("/") + JWKS_PATH


def audiences(settings: Settings) -> set[str]:
    return {entry.strip() for entry in settings.jwt_audience.split(",") if entry.strip()}


def verify_platform_jwt(token: str, settings: Settings, clients: JwksClients = JWKS_CLIENTS) -> tuple[str, int]:
    """(sub, exp) of a JWT signed by the configured issuer. Its `aud` (or, without one, its
    `client_id`, as API Gateway's JWT authorizer allows) must be one of the configured audiences."""
    accepted = audiences(settings)
    if not settings.jwt_issuer or not accepted:
        raise Unauthorized("platform JWTs are not accepted here (no issuer or audience configured)")
    try:
        key = clients.get(jwks_url(settings)).get_signing_key_from_jwt(token)
        if key.algorithm_name not in PLATFORM_ALGORITHMS:
            raise Unauthorized("token names a key of another kind")
        claims = jwt.decode(
            token,
            key.key,
            # Only the algorithm of the key the token names: an RS256 token under an EC key's kid fails here.
            algorithms=[key.algorithm_name],
            issuer=settings.jwt_issuer,
            options={"require": ["sub", "exp", "iss"], "verify_aud": False},
        )
    except jwt.PyJWKClientConnectionError as exc:
        logger.warning("could not fetch the JWKS of %s: %s", settings.jwt_issuer, exc)
        raise BackendUnavailable("the identity provider's keys could not be fetched") from None
    except jwt.ExpiredSignatureError:
        raise Unauthorized("token has expired") from None
    except jwt.PyJWTError:
        raise Unauthorized("token is not valid") from None
    auth.check_times(claims)
    audience = claims.get("aud", claims.get("client_id"))
    named = [audience] if isinstance(audience, str) else audience if isinstance(audience, list) else []
    if not accepted.intersection(entry for entry in named if isinstance(entry, str)):
        raise Unauthorized("token is not meant for this API")
    sub, exp = claims["sub"], claims["exp"]
    if not isinstance(sub, str) or not sub or isinstance(exp, bool) or not isinstance(exp, (int, float)):
        raise Unauthorized("token has a malformed subject or expiry")
    return sub, int(exp)


def authorizer_context(
    event: Mapping[str, Any],
    settings: Settings,
    clients: JwksClients = JWKS_CLIENTS,
    remote: auth.SecretSource = SECRET_CACHE,
) -> dict[str, Any]:
    """The context API Gateway hands to the function (`requestContext.authorizer.lambda`)."""
    token = auth.bearer(headers_of(event))
    if token is None:
        raise Unauthorized("missing credentials: send Authorization: Bearer <token>")
    try:
        algorithm = jwt.get_unverified_header(token).get("alg")
    except jwt.PyJWTError:
        raise Unauthorized("token is not valid") from None
    if algorithm in PLATFORM_ALGORITHMS:
        sub, exp = verify_platform_jwt(token, settings, clients)
        Identity(sub)  # the limits on user ids: refused here already, not only in the function
        return {"userId": sub, "expiresAt": exp}
    # Every other algorithm (`none` included) is refused by verify_token, which takes HS256 only.
    identity = auth.verify_capability(settings, token, remote)
    context: dict[str, Any] = {
        "userId": identity.user_id,
        "agentName": identity.agent_name,
        "readOnly": identity.read_only,
        # Verified just above; read again only for the expiry the function re-checks.
        "expiresAt": jwt.decode(token, options={"verify_signature": False})["exp"],
    }
    if identity.ns_prefix is not None:
        context["nsPrefix"] = identity.ns_prefix
    return context


def denial(reason: str) -> dict[str, Any]:
    """A refused credential. The request still goes on to the function, whose only
    possible answer is the contract's 401 `unauthorized` with this reason: API
    Gateway's own refusal would be a 403 `{"message": "Forbidden"}`, in neither the
    contract's status nor its error shape. The context has no `userId`, so no code
    path can read an identity from it (`events.authorizer_answer`)."""
    return {"isAuthorized": True, "context": {"denied": reason}}


def authorize(
    event: Any, settings: Settings, clients: JwksClients = JWKS_CLIENTS, remote: auth.SecretSource = SECRET_CACHE
) -> dict[str, Any]:
    """The simple response: the verified identity, or a denial the function answers with 401."""
    if not isinstance(event, Mapping):
        return denial("the request is malformed")
    try:
        context = authorizer_context(event, settings, clients, remote)
    except Unauthorized as exc:
        logger.info("request denied: %s", exc.message)
        return denial(exc.message)
    return {"isAuthorized": True, "context": context}


def authorizer_handler(settings: Settings | None = None) -> Callable[[Any, Any], dict[str, Any]]:
    """The Lambda handler of `functions/aws/authorizer`; settings are read on the first call."""
    configured: list[Settings] = [settings] if settings is not None else []

    def handler(event: Any, context: Any = None) -> dict[str, Any]:
        if not configured:
            configured.append(Settings.from_env())
        return authorize(event, configured[0])

    return handler
