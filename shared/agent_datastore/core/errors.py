"""Domain errors and the single error -> HTTP status table (API.md section 6).

Status codes come from the exception type, never from message text.
"""

from __future__ import annotations

from typing import Any


class DataStoreError(Exception):
    """Base of every error the contract knows. Subclasses fix `code` and `status`."""

    code = "internal"
    status = 500

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

    def body(self, request_id: str) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            error["details"] = self.details
        error["request_id"] = request_id
        return {"error": error}


class InvalidRequest(DataStoreError):
    code, status = "invalid_request", 400


class InvalidJson(DataStoreError):
    code, status = "invalid_json", 400


class InvalidKey(DataStoreError):
    code, status = "invalid_key", 400


class InvalidNamespace(DataStoreError):
    code, status = "invalid_namespace", 400


class InvalidValue(DataStoreError):
    code, status = "invalid_value", 400


class InvalidCursor(DataStoreError):
    code, status = "invalid_cursor", 400


class TooManyKeys(DataStoreError):
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

    def __init__(self, key: str, current_version: int, expected: int) -> None:
        if current_version == 0:
            message = f"key {key!r} does not exist, expected version {expected}"
        elif expected == 0:
            message = f"key {key!r} already exists at version {current_version}"
        else:
            message = f"key {key!r} is at version {current_version}, not {expected}"
        super().__init__(message, {"current_version": current_version})
        self.current_version = current_version


class NotANumber(DataStoreError):
    code, status = "not_a_number", 409


class ValueTooLarge(DataStoreError):
    code, status = "value_too_large", 413


class PayloadTooLarge(DataStoreError):
    code, status = "payload_too_large", 413


class Throttled(DataStoreError):
    code, status = "throttled", 429
    retry_after = 1


class BackendUnavailable(DataStoreError):
    code, status = "backend_unavailable", 503
    retry_after = 1


class InternalError(DataStoreError):
    code, status = "internal", 500


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
