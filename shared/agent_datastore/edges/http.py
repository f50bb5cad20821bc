"""The neutral request and response every edge translates to and from.

An edge (AWS Lambda, Google Cloud, the local server, the sandbox proxy)
turns what it receives into an `HttpRequest` and a `Response` back into
what it sends. Only the core is imported here, so the sandbox proxy can
answer errors in the contract's shape without loading the service or a
backend.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agent_datastore.core import errors, jsonutil

JSON_CONTENT_TYPE = "application/json; charset=utf-8"
# What a 405 names in `Allow` (RFC 9110 section 15.5.6): the operations, and the local read-only pages.
OPERATION_METHODS = "POST"
PAGE_METHODS = "GET, HEAD"


def new_request_id() -> str:
    """A random (version 4) UUID for a request the edge itself names. From `random`, which is
    seeded from the OS at start and again in a forked child, not from `os.urandom`: an id is
    not a secret, and a system call per request costs what a one-key call on SQLite does."""
    bits = random.getrandbits(128) & ~(0xF000 << 64) & ~(0xC000 << 48) | (0x4000 << 64) | (0x8000 << 48)
    text = f"{bits:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


@dataclass(frozen=True)
class GatewayClaims:
    """JWT claims an API gateway verified before the request reached this code
    (AWS HTTP API's JWT authorizer, Google API Gateway): never read from a header a client set."""

    claims: Mapping[str, Any]


@dataclass(frozen=True)
class AuthorizerAnswer:
    """The identity a Lambda authorizer verified. `agent_name` is None for a platform JWT,
    whose agent is the request's `X-Agent-Name`; `expires_at` is checked again on use,
    because the gateway caches the answer."""

    user_id: str
    agent_name: str | None
    ns_prefix: str | None
    read_only: bool
    expires_at: float


@dataclass(frozen=True)
class AuthorizerDenial:
    """A credential the authorizer refused: answered as 401 with this reason."""

    reason: str


Verified = GatewayClaims | AuthorizerAnswer | AuthorizerDenial | None


@dataclass(frozen=True)
class HttpRequest:
    method: str  # upper case
    path: str  # without the query string
    headers: Mapping[str, str]  # lower-case names
    body: bytes
    verified: Verified = None


@dataclass
class Response:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    code: str = "ok"  # the contract's error code, for logs and metrics

    def encoded_body(self) -> str:
        return jsonutil.dumps(self.body)

    def invocation_result(self) -> dict[str, Any]:
        """What a direct invocation returns (API.md section 4): the body as a JSON object."""
        return {"statusCode": self.status, "body": self.body}

    def http_headers(self, request_id: str | None = None) -> dict[str, str]:
        """The answer's headers in the order every edge sends them; `x-request-id`
        only for requests that reached the dispatch (not for protocol errors)."""
        headers = {"content-type": JSON_CONTENT_TYPE, **self.headers}
        if request_id is not None:
            headers["x-request-id"] = request_id
        return headers


def error_response(exc: errors.DataStoreError, request_id: str, *, allow: str = OPERATION_METHODS) -> Response:
    """The contract's error answer; a 405 names the methods `allow` of the resource asked for."""
    headers = {}
    if isinstance(exc, (errors.Throttled, errors.BackendUnavailable)):
        headers["retry-after"] = str(exc.retry_after)
    if isinstance(exc, errors.MethodNotAllowed):
        headers["allow"] = allow
    return Response(exc.status, exc.body(request_id), headers, exc.code)
