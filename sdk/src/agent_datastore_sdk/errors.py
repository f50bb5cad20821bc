"""Typed exceptions, one per error code of the contract (API.md section 6).

Every transport turns an error answer into the same exception: the class
comes from the `code` of the error body, never from the message text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class DataStoreError(Exception):
    """Base of every error the SDK raises for an operation that did not succeed."""

    code = "internal"
    status = 500

    def __init__(
        self,
        message: str,
        *,
        details: Mapping[str, Any] | None = None,
        request_id: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = dict(details or {})
        self.request_id = request_id
        if status is not None:
            self.status = status

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class InvalidRequest(DataStoreError, ValueError):
    code, status = "invalid_request", 400


class InvalidJson(DataStoreError, ValueError):
    code, status = "invalid_json", 400


class InvalidKey(DataStoreError, ValueError):
    code, status = "invalid_key", 400


class InvalidNamespace(DataStoreError, ValueError):
    code, status = "invalid_namespace", 400


class InvalidValue(DataStoreError, ValueError):
    code, status = "invalid_value", 400


class InvalidCursor(DataStoreError, ValueError):
    code, status = "invalid_cursor", 400


class TooManyKeys(DataStoreError, ValueError):
    code, status = "too_many_keys", 400


class Unauthorized(DataStoreError):
    code, status = "unauthorized", 401


class Forbidden(DataStoreError):
    code, status = "forbidden", 403


class UnknownOperation(DataStoreError):
    code, status = "unknown_operation", 404


class MethodNotAllowed(DataStoreError):
    code, status = "method_not_allowed", 405


class VersionConflict(DataStoreError):
    code, status = "version_conflict", 409

    @property
    def current_version(self) -> int:
        """The stored version when the write was refused (0: the key does not exist)."""
        return int(self.details.get("current_version", 0))


class NotANumber(DataStoreError):
    code, status = "not_a_number", 409


class ValueTooLarge(DataStoreError, ValueError):
    code, status = "value_too_large", 413


class PayloadTooLarge(DataStoreError, ValueError):
    code, status = "payload_too_large", 413


class RetryableError(DataStoreError):
    """The service asked the caller to come back later (`retry_after` seconds)."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class Throttled(RetryableError):
    code, status = "throttled", 429


class BackendUnavailable(RetryableError):
    code, status = "backend_unavailable", 503


class InternalError(DataStoreError):
    code, status = "internal", 500


class TransportError(DataStoreError):
    """The service could not be reached, or its answer could not be read."""

    code, status = "transport_error", 0


class ConnectionFailed(TransportError):
    """No request reached the service (connection refused, DNS, connect timeout): nothing happened."""

    code = "connection_failed"


class OutcomeUnknown(TransportError):
    """The request was sent but no answer came back: it may or may not have been applied.

    Raised instead of retrying a call that is not safe to repeat (`increment`,
    writes with `if_version`); read the key to find out what happened.
    """

    code = "outcome_unknown"


ERROR_TYPES: dict[str, type[DataStoreError]] = {
    cls.code: cls
    for cls in (
        InvalidRequest,
        InvalidJson,
        InvalidKey,
        InvalidNamespace,
        InvalidValue,
        InvalidCursor,
        TooManyKeys,
        Unauthorized,
        Forbidden,
        UnknownOperation,
        MethodNotAllowed,
        VersionConflict,
        NotANumber,
        ValueTooLarge,
        PayloadTooLarge,
        Throttled,
        BackendUnavailable,
        InternalError,
    )
}

# An answer without the contract's error body (a gateway or load balancer
# speaking): the status alone decides.
_STATUS_TYPES: dict[int, type[DataStoreError]] = {
    400: InvalidRequest,
    401: Unauthorized,
    403: Forbidden,
    404: UnknownOperation,
    405: MethodNotAllowed,
    413: PayloadTooLarge,
    429: Throttled,
    502: BackendUnavailable,
    503: BackendUnavailable,
    504: BackendUnavailable,
}


def error_from_response(status: int, body: Any, retry_after: float | None = None) -> DataStoreError:
    """The exception for an error answer (status + decoded body, which may be anything)."""
    error = body.get("error") if isinstance(body, Mapping) else None
    if isinstance(error, Mapping) and isinstance(error.get("code"), str):
        code = error["code"]
        message = str(error.get("message") or code)
        details = error.get("details") if isinstance(error.get("details"), Mapping) else None
        request_id = error.get("request_id") if isinstance(error.get("request_id"), str) else None
        cls = ERROR_TYPES.get(code)
        if cls is None:
            cls = _STATUS_TYPES.get(status, InternalError if status >= 500 else DataStoreError)
            exc = _make(cls, message, details, request_id, status, retry_after)
            exc.code = code  # keep a code this SDK version does not know yet
            return exc
        return _make(cls, message, details, request_id, status, retry_after)
    if isinstance(body, Mapping) and isinstance(body.get("message"), str):
        message = body["message"]  # API Gateway's own answers: {"message": "Unauthorized"}
    else:
        message = f"HTTP {status}"
    cls = _STATUS_TYPES.get(status, InternalError if status >= 500 else DataStoreError)
    return _make(cls, message, None, None, status, retry_after)


def _make(
    cls: type[DataStoreError],
    message: str,
    details: Mapping[str, Any] | None,
    request_id: str | None,
    status: int,
    retry_after: float | None,
) -> DataStoreError:
    if issubclass(cls, RetryableError):
        return cls(message, details=details, request_id=request_id, status=status, retry_after=retry_after)
    return cls(message, details=details, request_id=request_id, status=status)
