"""The AWS Lambda edge: Powertools applied once around the shared handler.

Every `functions/aws/<operation>/app.py` is `handler = aws_handler("<operation>")`.
This wraps `adapter.make_handler` (the one path into the service) with:

- a structured Powertools Logger carrying the request id, operation,
  transport and user id - never values, keys or tokens;
- the Powertools Tracer (X-Ray; it switches itself off outside Lambda and
  with POWERTOOLS_TRACE_DISABLED, and patches botocore so DynamoDB calls
  appear as subsegments);
- one CloudWatch metric (EMF) per request, `Requests`, with the dimensions
  `operation` and `code` (`ok` or the contract's error code);
- event parsing with Powertools' `APIGatewayProxyEventV2` for HTTP API
  events; anything else is a direct invocation.

The response is the core adapter's, untouched, so AWS answers byte for
byte what every other transport answers.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from agent_datastore.core import errors
from agent_datastore.core.settings import Settings
from agent_datastore.edges.auth import signing_secret
from agent_datastore.edges.http import Api, is_http_event, make_handler, request_id_of

SERVICE = "agent-datastore"
METRICS_NAMESPACE = "AgentDataStore"


class AwsApi(Api):
    """`Api` whose capability-token secret may live in Secrets Manager or SSM.

    `auth.token_secrets` fetches and caches that secret for token checks; here it
    also keys the `list_keys` cursors (unless DATASTORE_CURSOR_SECRET is set), so
    cursors stay valid across function instances. Fetched on the first request
    that needs settings, never at import.
    """

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            settings = Settings.from_env()
            if (settings.token_secret_arn or settings.token_secret_parameter) and not settings.cursor_secret:
                try:
                    _, secret = signing_secret(settings)
                except ValueError as exc:
                    raise errors.BackendUnavailable("the token secret is empty") from exc
                settings = replace(settings, cursor_secret=secret)
            self._settings = settings
        return self._settings


def _user_of(event: Any) -> tuple[str, str | None]:
    """(transport, user id) for the logs: what the gateway verified, or the direct caller's identity."""
    if is_http_event(event):
        from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

        authorizer = APIGatewayProxyEventV2(dict(event)).request_context.authorizer
        # The Lambda authorizer's answer, else the JWT authorizer's claims.
        lambda_context = authorizer.get_lambda if authorizer else None
        claims = authorizer.jwt_claim if authorizer else None
        user = (lambda_context or {}).get("userId") or (claims or {}).get("sub")
        return "http", user if isinstance(user, str) else None
    identity = event.get("identity") if isinstance(event, Mapping) else None
    user = identity.get("userId") if isinstance(identity, Mapping) else None
    return "direct", user if isinstance(user, str) else None


def _error_code(result: Mapping[str, Any]) -> str:
    if int(result.get("statusCode", 500)) < 400:
        return "ok"
    body = result.get("body")
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return "internal"
    error = body.get("error") if isinstance(body, Mapping) else None
    code = error.get("code") if isinstance(error, Mapping) else None
    return code if isinstance(code, str) else "internal"


def aws_handler(operation: str, api: Api | None = None, logger: Any = None) -> Callable[[Any, Any], dict[str, Any]]:
    """The Lambda handler of one operation, with Logger, Tracer and Metrics."""
    from aws_lambda_powertools import Logger, Tracer, single_metric
    from aws_lambda_powertools.metrics import MetricUnit

    core = make_handler(operation, api or AwsApi())
    logger = logger or Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or SERVICE)
    tracer = Tracer(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or SERVICE)
    namespace = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or METRICS_NAMESPACE

    def handler(event: Any, context: Any = None) -> dict[str, Any]:
        request_id = request_id_of(event, context)
        transport, user_id = _user_of(event)
        logger.append_keys(request_id=request_id, operation=operation, transport=transport, user_id=user_id)
        try:
            with tracer.provider.in_subsegment(f"## {operation}") as subsegment:
                subsegment.put_annotation("operation", operation)
                result = core(event, context)
                code = _error_code(result)
                subsegment.put_annotation("code", code)
        finally:
            logger.remove_keys(["request_id", "operation", "transport", "user_id"])
        with single_metric(name="Requests", unit=MetricUnit.Count, value=1, namespace=namespace) as metric:
            metric.add_dimension(name="operation", value=operation)
            metric.add_dimension(name="code", value=code)
        log = logger.warning if int(result["statusCode"]) >= 500 else logger.info
        log(
            "request finished",
            extra={
                "request_id": request_id,
                "operation": operation,
                "user_id": user_id,
                "status": result["statusCode"],
                "code": code,
            },
        )
        return result

    handler.api = core.api  # type: ignore[attr-defined]
    handler.logger = logger  # type: ignore[attr-defined]
    return handler
