"""Streamable HTTP for the MCP server: a bearer capability token on every request, Origin checked.

- Every request carries `Authorization: Bearer <capability token>`, checked by
  the SDK's bearer middleware with our verifier (401 without one); the tools
  act with that token, so its `ns_prefix` and `read_only` hold through MCP.
- Identity headers (`X-User-Id`, `X-Agent-Name`, a gateway's user info) are
  refused (400): over MCP, identity comes from the token only.
- Host and Origin are validated by the SDK's transport security (the MCP
  specification's guard against DNS rebinding): a foreign Origin is 403.
  Only loopback origins are allowed unless more are named.
"""

from __future__ import annotations

from typing import Any

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import AnyHttpUrl
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from agent_datastore.core.errors import DataStoreError, InvalidRequest
from agent_datastore.core.limits import MAX_BODY_BYTES
from agent_datastore.edges.mcp.backends import Backend
from agent_datastore.edges.mcp.server import build_server
from agent_datastore.edges.mcp.tools import error_body

IDENTITY_HEADERS = (b"x-user-id", b"x-agent-name", b"x-apigateway-api-userinfo", b"x-forwarded-authorization")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
# Room around the largest operation body for the JSON-RPC envelope.
MAX_MCP_BODY = MAX_BODY_BYTES + 64 * 1024


class CapabilityTokenVerifier:
    """The SDK's `TokenVerifier`: a capability token -> the AccessToken the tools act with."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            identity = self.backend.identify(token)
        except DataStoreError:
            return None
        return AccessToken(
            token=token,
            client_id=identity.user_id,
            subject=identity.user_id,
            scopes=[],
            claims={"agent": identity.agent_name, "ns_prefix": identity.ns_prefix, "read_only": identity.read_only},
        )


def bearer_of_request(ctx: Any) -> str | None:
    """The verified bearer token of the request being served."""
    access = get_access_token()
    if access is None and ctx.request is not None:
        user = ctx.request.scope.get("user")
        access = getattr(user, "access_token", None)
    return access.token if access is not None else None


class RefuseIdentityHeaders:
    """400 for a request that tries to say who it is other than with its token."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            named = sorted({name.decode("latin-1") for name, _ in scope["headers"] if name.lower() in IDENTITY_HEADERS})
            if named:
                exc = InvalidRequest(f"identity headers are not accepted here ({', '.join(named)}): send a token")
                await JSONResponse(error_body(exc), status_code=400)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def security(host: str, origins: list[str], hosts: list[str]) -> TransportSecuritySettings:
    allowed_hosts = [f"{name}:*" for name in (*LOOPBACK_HOSTS, host, *hosts)] + [host, *hosts]
    allowed_origins = [f"http://{name}:*" for name in LOOPBACK_HOSTS] + list(origins)
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=sorted(set(allowed_hosts)),
        allowed_origins=allowed_origins,
    )


def build_http_app(
    backend: Backend,
    *,
    host: str = "127.0.0.1",
    path: str = "/mcp",
    origins: list[str] | None = None,
    hosts: list[str] | None = None,
) -> ASGIApp:
    server = build_server(backend, bearer_of_request)

    async def healthz(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app = server.streamable_http_app(
        streamable_http_path=path,
        transport_security=security(host, origins or [], hosts or []),
        host=host,
        max_request_body_size=MAX_MCP_BODY,
        # The tokens are ours, not an OAuth server's: without resource_server_url no protected-resource
        # metadata is published and the issuer (a required field) is never shown.
        auth=AuthSettings(issuer_url=AnyHttpUrl("http://localhost"), resource_server_url=None),
        token_verifier=CapabilityTokenVerifier(backend),
        custom_starlette_routes=[Route("/healthz", healthz)],
    )
    return RefuseIdentityHeaders(app)


def serve_http(app: ASGIApp, host: str, port: int) -> None:
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level="warning")
