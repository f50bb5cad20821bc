"""Events in, responses out: the one path from any transport into the service.

`Api.handle_http` serves API-gateway HTTP events (AWS HTTP API payload v2,
which the local server builds too); `Api.handle_direct` serves direct
invocations (`{"identity": {...}, ...request}`). Both end in `Api.call`, so
every transport returns the same status codes and error bodies.
"""

from __future__ import annotations

import base64
import binascii
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agent_datastore.api import models
from agent_datastore.api.service import DataStoreService
from agent_datastore.core import errors, jsonutil
from agent_datastore.core.identity import Identity
from agent_datastore.core.settings import Settings
from agent_datastore.edges import auth
from agent_datastore.stores.base import Store

logger = logging.getLogger("agent_datastore")

JSON_HEADERS = {"content-type": "application/json; charset=utf-8"}


@dataclass
class Response:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    def encoded_body(self) -> str:
        return jsonutil.dumps(self.body)


def operation_from_path(path: str) -> str:
    prefix = "/v1/"
    if not path.startswith(prefix) or "/" in path[len(prefix) :]:
        raise errors.UnknownOperation(f"no such endpoint {path!r}; operations are POST /v1/<operation>")
    operation = path[len(prefix) :]
    if operation not in models.REQUEST_MODELS:
        raise errors.UnknownOperation(f"unknown operation {operation!r}; known: {', '.join(models.REQUEST_MODELS)}")
    return operation


def error_response(exc: errors.DataStoreError, request_id: str) -> Response:
    headers = {}
    if isinstance(exc, (errors.Throttled, errors.BackendUnavailable)):
        headers["retry-after"] = str(exc.retry_after)
    return Response(exc.status, exc.body(request_id), headers)


class Api:
    """Wires settings, store and service once per process (lazily)."""

    def __init__(self, settings: Settings | None = None, store: Store | None = None) -> None:
        self._settings = settings
        self._store = store
        self._service: DataStoreService | None = None
        self._lock = threading.Lock()

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = Settings.from_env()
        return self._settings

    @property
    def service(self) -> DataStoreService:
        if self._service is None:
            # Threaded servers (functions-framework, the local server) may ask at once.
            with self._lock:
                if self._service is None:
                    if self._store is None:
                        from agent_datastore.stores import create_store

                        self._store = create_store(self.settings)
                    self._service = DataStoreService(self._store, self.settings)
        return self._service

    def close(self) -> None:
        if self._store is not None:
            self._store.close()

    def call(
        self,
        operation: str,
        body: Any,
        identify: Callable[[], Identity],
        request_id: str,
        deadline: float | None = None,
    ) -> Response:
        """Authenticate, validate and execute; any failure becomes the contract's error."""
        try:
            identity = identify()
            if isinstance(body, (bytes, str)):
                if len(body) > models.MAX_BODY_BYTES:
                    raise errors.PayloadTooLarge(f"request body exceeds {models.MAX_BODY_BYTES} bytes")
                body = jsonutil.loads(body)
            request = models.parse_request(operation, body)
            result = self.service.execute(operation, request, identity, deadline)
            return Response(200, result)
        except errors.DataStoreError as exc:
            if exc.status >= 500:
                logger.warning("operation %s failed: %s %s", operation, exc.code, exc.message)
            return error_response(exc, request_id)
        except Exception:
            logger.exception("operation %s failed unexpectedly", operation)
            return error_response(errors.InternalError("internal error"), request_id)

    # -- AWS HTTP API payload v2 (also what the local server builds) -------

    def handle_http(
        self, event: Mapping[str, Any], operation: str | None, request_id: str, deadline: float | None = None
    ) -> Response:
        context = event.get("requestContext") or {}
        method = str((context.get("http") or {}).get("method", "POST")).upper()
        headers = {str(name).lower(): str(value) for name, value in (event.get("headers") or {}).items()}
        try:
            if operation is None:
                operation = operation_from_path(str(event.get("rawPath") or context.get("http", {}).get("path", "")))
            if method != "POST":
                raise errors.MethodNotAllowed(f"{method} is not allowed; use POST /v1/{operation}")
            raw = event.get("body")
            if raw is None:
                raw = ""
            if event.get("isBase64Encoded"):
                try:
                    raw = base64.b64decode(raw, validate=True)
                except (binascii.Error, ValueError):
                    raise errors.InvalidJson("request body is not valid base64") from None
        except errors.DataStoreError as exc:
            return error_response(exc, request_id)
        return self.call(
            operation,
            raw,
            lambda: auth.authenticate(self.settings, headers, context),
            request_id,
            deadline,
        )

    def handle_direct(
        self, event: Mapping[str, Any], operation: str, request_id: str, deadline: float | None
    ) -> Response:
        body = {name: value for name, value in event.items() if name != "identity"}
        return self.call(operation, body, lambda: auth.direct_identity(event.get("identity")), request_id, deadline)


def is_http_event(event: Any) -> bool:
    return isinstance(event, Mapping) and isinstance((event.get("requestContext") or {}).get("http"), Mapping)


def deadline_from_context(context: Any) -> float | None:
    """Leave a margin before the function's own timeout for answering."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return None
    seconds = float(remaining()) / 1000
    return time.monotonic() + max(seconds - 3.0, 0.5)


def request_id_of(event: Any, context: Any) -> str:
    rid = getattr(context, "aws_request_id", None)
    if not rid and isinstance(event, Mapping):
        rid = (event.get("requestContext") or {}).get("requestId")
    return str(rid or uuid.uuid4())


def make_handler(operation: str | None, api: Api | None = None) -> Callable[[Any, Any], dict[str, Any]]:
    """A Lambda-style handler for one operation (None: route by the event's path).

    HTTP events get `{"statusCode", "headers", "body": <JSON text>}`; direct
    invocations get `{"statusCode", "body": <JSON object>}` (API.md section 4).
    """
    shared = api or Api()

    def handler(event: Any, context: Any = None) -> dict[str, Any]:
        request_id = request_id_of(event, context)
        if is_http_event(event):
            response = shared.handle_http(event, operation, request_id, deadline_from_context(context))
            headers = {**JSON_HEADERS, **response.headers, "x-request-id": request_id}
            return {"statusCode": response.status, "headers": headers, "body": response.encoded_body()}
        if not isinstance(event, Mapping):
            response = error_response(errors.InvalidRequest("event must be a JSON object"), request_id)
        elif operation is None:
            response = error_response(
                errors.UnknownOperation("direct invocation needs a per-operation function"), request_id
            )
        else:
            response = shared.handle_direct(event, operation, request_id, deadline_from_context(context))
        return {"statusCode": response.status, "body": response.body}

    handler.api = shared  # type: ignore[attr-defined]
    return handler
