"""Typed exceptions, one per error code of the contract (API.md section 6).

Every transport turns an error answer into the same exception: the class
comes from the `code` of the error body, never from the message text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ERROR_TYPES: dict[str, type[DataStoreError]] = {}
"""Every error code of the contract -> its class; filled by the class statements below."""


class DataStoreError(Exception):
    """Base of every error the SDK raises for an operation that did not succeed."""

    code = "internal"
    status = 500

    def __init_subclass__(cls, *, code: str | None = None, status: int | None = None, **kwargs: Any) -> None:
        # `class X(..., code=..., status=...)` declares a code of the contract: answers carrying it raise X.
        super().__init_subclass__(**kwargs)
        if code is not None and status is not None:
            cls.code, cls.status = code, status
            ERROR_TYPES[code] = cls

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


# Errors in the request itself are also ValueErrors, as Python raises for bad arguments.


class InvalidRequest(DataStoreError, ValueError, code="invalid_request", status=400):
    """The body is not a JSON object, or a member is missing, unknown, of the wrong type or out of range."""


class InvalidJson(DataStoreError, ValueError, code="invalid_json", status=400):
    """The request body is not valid JSON (or not valid base64)."""


class InvalidKey(DataStoreError, ValueError, code="invalid_key", status=400):
    """A key is not 1-1024 bytes of UTF-8 without NUL."""


class InvalidNamespace(DataStoreError, ValueError, code="invalid_namespace", status=400):
    """A namespace is not 1-256 bytes of UTF-8 without NUL."""


class InvalidValue(DataStoreError, ValueError, code="invalid_value", status=400):
    """NaN, infinity, a lone surrogate, nesting deeper than 64, or an increment that is not finite."""


class InvalidCursor(DataStoreError, ValueError, code="invalid_cursor", status=400):
    """A cursor from another user or namespace, or a forged one."""


class TooManyKeys(DataStoreError, ValueError, code="too_many_keys", status=400):
    """More than 100 keys or items in one request."""


class Unauthorized(DataStoreError, code="unauthorized", status=401):
    """Missing, invalid or expired credentials."""


class Forbidden(DataStoreError, code="forbidden", status=403):
    """Valid credentials that do not allow this: a namespace outside `ns_prefix`, a write while read-only."""


class UnknownOperation(DataStoreError, code="unknown_operation", status=404):
    """No such operation or endpoint."""


class MethodNotAllowed(DataStoreError, code="method_not_allowed", status=405):
    """Operations are POST only."""


class VersionConflict(DataStoreError, code="version_conflict", status=409):
    """`if_version` did not match the stored version; nothing was written."""

    @property
    def current_version(self) -> int:
        """The stored version when the write was refused (0: the key does not exist)."""
        return int(self.details.get("current_version", 0))


class NotANumber(DataStoreError, code="not_a_number", status=409):
    """`increment` of a key that holds something other than a number."""


class ValueTooLarge(DataStoreError, ValueError, code="value_too_large", status=413):
    """A value over 1 MiB or metadata over 16 KiB (as given or after merging), as compact JSON."""


class PayloadTooLarge(DataStoreError, ValueError, code="payload_too_large", status=413):
    """A request body over 6 MiB."""


class RetryableError(DataStoreError):
    """The service asked the caller to come back later (`retry_after` seconds)."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class Throttled(RetryableError, code="throttled", status=429):
    """Too many requests."""


class BackendUnavailable(RetryableError, code="backend_unavailable", status=503):
    """The service or its database cannot answer now."""


class InternalError(DataStoreError, code="internal", status=500):
    """The service failed (no detail is given away)."""


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
