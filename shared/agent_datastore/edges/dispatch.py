"""The one path from a neutral request to the service and back.

`answer_http` serves an `HttpRequest` (route `POST /v1/<operation>`, 405 for
any other method, body size and JSON, authentication); `answer_direct` serves
a direct invocation (`{"identity": {...}, ...request}`, API.md section 4).
Both end in `_call`, which parses the request model, calls the service and
turns any failure into the contract's error, so every transport returns the
same status codes and error bodies.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from agent_datastore.api.app import Api
from agent_datastore.api.service import OPERATIONS, parse_request
from agent_datastore.core import errors, jsonutil
from agent_datastore.core.identity import Identity
from agent_datastore.core.limits import MAX_BODY_BYTES
from agent_datastore.edges import auth
from agent_datastore.edges.http import HttpRequest, Response, error_response

logger = logging.getLogger("agent_datastore")


def operation_from_path(path: str) -> str:
    prefix = "/v1/"
    if not path.startswith(prefix) or "/" in path[len(prefix) :]:
        raise errors.UnknownOperation(f"no such endpoint {path!r}; operations are POST /v1/<operation>")
    operation = path[len(prefix) :]
    if operation not in OPERATIONS:
        raise errors.UnknownOperation(f"unknown operation {operation!r}; known: {', '.join(OPERATIONS)}")
    return operation


def answer_http(
    api: Api,
    request: HttpRequest,
    operation: str | None,
    request_id: str,
    deadline: float | None = None,
    *,
    remote: auth.SecretSource | None = None,
    unreadable: errors.DataStoreError | None = None,
) -> Response:
    """`operation` None routes by the path. `unreadable` is what the edge found wrong while
    decoding the body; it is answered after the path and method, whose errors come first."""
    try:
        if operation is None:
            operation = operation_from_path(request.path)
        if request.method != "POST":
            raise errors.MethodNotAllowed(f"{request.method} is not allowed; use POST /v1/{operation}")
        if unreadable is not None:
            raise unreadable
    except errors.DataStoreError as exc:
        return error_response(exc, request_id)
    return _call(
        api,
        operation,
        request.body,
        lambda: auth.authenticate(api.settings, request.headers, request.verified, remote),
        request_id,
        deadline,
    )


def answer_direct(api: Api, event: Any, operation: str | None, request_id: str, deadline: float | None) -> Response:
    """A direct invocation by a trusted service: its `identity` member is who calls."""
    if not isinstance(event, Mapping):
        return error_response(errors.InvalidRequest("event must be a JSON object"), request_id)
    if operation is None:
        return error_response(errors.UnknownOperation("direct invocation needs a per-operation function"), request_id)
    body = {name: value for name, value in event.items() if name != "identity"}
    return _call(api, operation, body, lambda: auth.direct_identity(event.get("identity")), request_id, deadline)


def check_size(body: bytes) -> None:
    """The contract's limit is in bytes (API.md section 3), on every transport (a direct
    invocation through a Lambda Invoke is held to 6 MB by Lambda itself)."""
    if len(body) > MAX_BODY_BYTES:
        raise errors.PayloadTooLarge(f"request body exceeds {MAX_BODY_BYTES} bytes")


def _call(
    api: Api,
    operation: str,
    body: bytes | dict[str, Any],
    identify: Callable[[], Identity],
    request_id: str,
    deadline: float | None,
) -> Response:
    """Authenticate, validate and execute; any failure becomes the contract's error."""
    try:
        identity = identify()
        payload: Any = body
        if isinstance(body, bytes):
            check_size(body)
            payload = jsonutil.loads(body)
        request = parse_request(operation, payload)
        result = api.service.execute(operation, request, identity, deadline)
        return Response(200, result)
    except errors.DataStoreError as exc:
        if exc.status >= 500:
            logger.warning("operation %s failed: %s %s", operation, exc.code, exc.message)
        return error_response(exc, request_id)
    except Exception:
        logger.exception("operation %s failed unexpectedly", operation)
        return error_response(errors.InternalError("internal error"), request_id)
