"""Direct invocation of the deployed functions with boto3 (`lambda.invoke`).

For trusted services: their IAM permission to invoke is the authentication,
and the identity travels in the payload (API.md section 5):
`{"identity": {"userId": ..., "agentName": ...}, ...request}`. The function
answers `{"statusCode": n, "body": {...}}`; errors map to the same exceptions
as over HTTP. Function names are `<prefix><operation>` (default prefix
`agent-datastore-`, e.g. `agent-datastore-get`).

botocore's own retries are switched off on the client this module builds:
botocore would repeat an invocation whose answer timed out, which is not safe
for `increment`. `RetryPolicy` decides instead, knowing which calls are
idempotent.
"""

from __future__ import annotations

import json
import os
from typing import Any

from .. import errors
from .base import Call, RetryPolicy, run_with_retries

DEFAULT_PREFIX = "agent-datastore-"

_CLIENT_ERRORS: dict[str, type[errors.DataStoreError]] = {
    "TooManyRequestsException": errors.Throttled,
    "EC2ThrottledException": errors.Throttled,
    "ThrottlingException": errors.Throttled,
    "ResourceNotFoundException": errors.UnknownOperation,
    "AccessDeniedException": errors.Forbidden,
    "AccessDeniedExceptionException": errors.Forbidden,
    "RequestTooLargeException": errors.PayloadTooLarge,
    "ServiceException": errors.BackendUnavailable,
    "ResourceNotReadyException": errors.BackendUnavailable,
    "ResourceConflictException": errors.BackendUnavailable,
}


class LambdaTransport:
    def __init__(
        self,
        user_id: str,
        agent_name: str = "api",
        *,
        function_prefix: str | None = None,
        ns_prefix: str | None = None,
        read_only: bool = False,
        client: Any = None,
        region_name: str | None = None,
        read_timeout: float = 120.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        if not user_id:
            raise ValueError("user_id is required for direct invocation")
        self.identity: dict[str, Any] = {"userId": user_id, "agentName": agent_name}
        if ns_prefix is not None:
            self.identity["nsPrefix"] = ns_prefix
        if read_only:
            self.identity["readOnly"] = True
        if function_prefix is None:
            function_prefix = os.environ.get("DATASTORE_FUNCTION_PREFIX", DEFAULT_PREFIX)
        self.function_prefix = function_prefix
        self.retry = retry or RetryPolicy()
        self._client = client
        self._region_name = region_name
        self._read_timeout = read_timeout

    @property
    def client(self) -> Any:
        if self._client is None:
            try:
                import boto3
                from botocore.config import Config
            except ImportError as exc:  # pragma: no cover - depends on the installation
                raise ImportError("direct invocation needs boto3: pip install 'agent-datastore-sdk[aws]'") from exc
            config = Config(read_timeout=self._read_timeout, retries={"total_max_attempts": 1})
            self._client = boto3.client("lambda", region_name=self._region_name, config=config)
        return self._client

    def payload(self, call: Call) -> bytes:
        return json.dumps({"identity": self.identity, **call.body}, ensure_ascii=False).encode("utf-8")

    def call(self, call: Call) -> dict[str, Any]:
        return run_with_retries(self.retry, call, lambda: self._once(call))

    def _once(self, call: Call) -> dict[str, Any]:
        from botocore.exceptions import (
            ClientError,
            ConnectionClosedError,
            ConnectTimeoutError,
            EndpointConnectionError,
            ReadTimeoutError,
        )

        name = f"{self.function_prefix}{call.operation}"
        try:
            response = self.client.invoke(
                FunctionName=name, InvocationType="RequestResponse", Payload=self.payload(call)
            )
            raw = response["Payload"].read()
        except (EndpointConnectionError, ConnectTimeoutError) as exc:
            raise errors.ConnectionFailed(f"could not reach AWS Lambda: {exc}") from exc
        except (ReadTimeoutError, ConnectionClosedError) as exc:
            raise errors.OutcomeUnknown(f"no answer from {name} (it may have run): {exc}") from exc
        except ClientError as exc:
            raise _client_error(exc, name) from exc
        try:
            result = json.loads(raw) if raw else None
        except ValueError:
            result = None
        if response.get("FunctionError"):
            raise _function_error(name, result)
        if not isinstance(result, dict) or not isinstance(result.get("statusCode"), int):
            raise errors.InternalError(f"{name} answered something that is not {{statusCode, body}}")
        status, body = result["statusCode"], result.get("body")
        if isinstance(body, str):  # tolerate an HTTP-shaped answer
            try:
                body = json.loads(body)
            except ValueError:
                body = None
        if status == 200 and isinstance(body, dict):
            return body
        raise errors.error_from_response(status, body)

    def close(self) -> None:
        pass


def _client_error(exc: Any, name: str) -> errors.DataStoreError:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    message = f"{name}: {code}: {error.get('Message', '')}".rstrip(": ")
    cls = _CLIENT_ERRORS.get(code)
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    if cls is None:
        cls = errors.BackendUnavailable if status >= 500 else errors.InternalError
    if issubclass(cls, errors.RetryableError):
        retry_after = exc.response.get("retryAfterSeconds")
        return cls(message, retry_after=float(retry_after) if retry_after else None)
    return cls(message)


def _function_error(name: str, result: Any) -> errors.DataStoreError:
    """The function itself failed (unhandled exception, timeout, out of memory)."""
    details = result if isinstance(result, dict) else {}
    message = str(details.get("errorMessage") or "the function failed")
    error_type = str(details.get("errorType") or "")
    if "timed out" in message.lower() or "timedout" in error_type.lower():
        return errors.OutcomeUnknown(f"{name} timed out (it may have written): {message}")
    return errors.InternalError(f"{name} failed: {error_type or 'error'}: {message}")
