"""Where the MCP server's data lives, and who is asking: an SDK transport per credential.

The MCP server is a client of the store. With DATASTORE_URL it speaks HTTP
to that API (a deployment, `make serve`) and passes each caller's capability
token on, so the API checks it on every call; without it, it runs the core
in this process on the configured backend (the SDK's in-process transport)
and checks the token itself. Either way a credential becomes a transport.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Protocol

import jwt

from agent_datastore.api.app import Api
from agent_datastore.core.errors import Unauthorized
from agent_datastore.core.identity import Identity
from agent_datastore.core.settings import Settings
from agent_datastore.edges.auth import token_secrets, verify_capability
from agent_datastore.edges.aws.secrets import SECRET_CACHE
from agent_datastore_sdk import AsyncTransport

# Transports kept per credential (a sandbox host may hand out a token per run).
MAX_CACHED = 64
LOCAL_AGENT = "mcp"


class Backend(Protocol):
    def describe(self) -> str: ...

    def identify(self, token: str) -> Identity:
        """The identity a bearer token claims, or `Unauthorized` (streamable HTTP checks each request)."""
        ...

    def transport(self, token: str | None) -> AsyncTransport:
        """The transport that acts with `token` (None: no credential)."""
        ...

    async def aclose(self) -> None: ...


class _Cache:
    """A few transports, the least recently used one closed when there are too many."""

    def __init__(self) -> None:
        self._items: OrderedDict[Any, AsyncTransport] = OrderedDict()
        self._lock = threading.Lock()
        self._evicted: list[AsyncTransport] = []

    def get(self, key: Any, make: Any) -> AsyncTransport:
        with self._lock:
            found = self._items.get(key)
            if found is None:
                found = self._items[key] = make()
                while len(self._items) > MAX_CACHED:
                    self._evicted.append(self._items.popitem(last=False)[1])
            self._items.move_to_end(key)
            return found

    async def aclose(self) -> None:
        with self._lock:
            closing = [*self._evicted, *self._items.values()]
            self._items.clear()
            self._evicted.clear()
        for transport in closing:
            await transport.aclose()


def unverified_identity(token: str) -> Identity:
    """What a token claims, its signature unchecked: the API it is passed to checks that on every call."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False, "require": ["sub", "exp"]})
    except jwt.PyJWTError:
        raise Unauthorized("token is not valid") from None
    if claims["exp"] <= time.time():
        raise Unauthorized("token has expired")
    user, agent = claims.get("sub"), claims.get("agent", "api")
    if not isinstance(user, str) or not isinstance(agent, str):
        raise Unauthorized("token is not valid")
    return Identity(user, agent, claims.get("ns_prefix"), bool(claims.get("read_only", False)))


@dataclass
class RemoteBackend:
    """The API at `url`: each credential is sent on as `Authorization: Bearer`."""

    url: str
    settings: Settings

    def __post_init__(self) -> None:
        self._cache = _Cache()

    def describe(self) -> str:
        return self.url

    def identify(self, token: str) -> Identity:
        # With the secret at hand a bad token is refused here already; else the API refuses it.
        if token_secrets(self.settings, SECRET_CACHE):
            return verify_capability(self.settings, token, SECRET_CACHE)
        return unverified_identity(token)

    def transport(self, token: str | None) -> AsyncTransport:
        from agent_datastore_sdk.transports.http import AsyncHttpTransport

        return self._cache.get(token, lambda: AsyncHttpTransport(self.url, token))

    async def aclose(self) -> None:
        await self._cache.aclose()


@dataclass
class LocalBackend:
    """The core in this process on the configured backend; tokens are checked here.

    `local_user`: without a credential, act as the local user (only with DATASTORE_AUTH=none).
    """

    settings: Settings
    local_user: bool = False

    def __post_init__(self) -> None:
        self._api = Api(self.settings)
        self._cache = _Cache()

    def describe(self) -> str:
        return f"in-process {self.settings.store_backend} store"

    def identify(self, token: str) -> Identity:
        return verify_capability(self.settings, token, SECRET_CACHE)

    def transport(self, token: str | None) -> AsyncTransport:
        from agent_datastore_sdk.transports.base import ThreadedAsyncTransport
        from agent_datastore_sdk.transports.inprocess import InProcessTransport

        if token is not None:
            identity = self.identify(token)  # every call: tokens expire while a server runs
        elif self.local_user:
            identity = Identity("local", LOCAL_AGENT)
        else:
            raise Unauthorized("no credential: set DATASTORE_TOKEN to a capability token")

        def make() -> AsyncTransport:
            inner = InProcessTransport(
                identity.user_id,
                identity.agent_name,
                ns_prefix=identity.ns_prefix,
                read_only=identity.read_only,
                api=self._api,
            )
            return ThreadedAsyncTransport(inner)

        return self._cache.get(identity, make)

    async def aclose(self) -> None:
        await self._cache.aclose()
        self._api.close()


def backend_from(settings: Settings, url: str | None, *, local_user: bool = False) -> Backend:
    if url:
        return RemoteBackend(url, settings)
    return LocalBackend(settings, local_user)
