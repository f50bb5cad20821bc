"""The AWS Lambda edge: an event in, the dispatch's answer out, Powertools applied once.

Every `functions/aws/<operation>/app.py` is `handler = aws_handler("<operation>")`.
`LambdaHandler` translates the event (`events.py`: HTTP API payload v2, or
a direct invocation) into the neutral request, calls `edges.dispatch` and
translates the answer back; `aws_handler` wraps it with:

- a structured Powertools Logger carrying the request id, operation,
  transport and user id - never values, keys or tokens;
- the Powertools Tracer (X-Ray; it switches itself off outside Lambda and
  with POWERTOOLS_TRACE_DISABLED, and patches botocore so DynamoDB calls
  appear as subsegments), made on the first invocation X-Ray samples;
- one CloudWatch metric (EMF) per request, `Requests`, with the dimensions
  `operation` and `code` (`ok` or the contract's error code).

The answer is `LambdaHandler`'s, untouched, so AWS answers byte for byte
what every other transport answers. `LambdaHandler` needs no Powertools:
the SDK's in-process transport and the tests call it as it is.

Cold start (docs/aws.md, "Cold start"; bench/coldstart.py): importing a function's `app.py`
loads the Powertools Logger and Metrics and this edge's own modules, nothing more. The
dispatch, the service and its pydantic models, the store and boto3 load with the first event;
the X-Ray SDK with the Tracer, made with the first invocation X-Ray samples (until then there
is nothing to record), patching botocore only (the one library these functions call out
with) rather than every library the X-Ray SDK knows.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from agent_datastore.api.app import Api
from agent_datastore.core.settings import Settings
from agent_datastore.edges.auth import SecretSource, with_remote_cursor_secret
from agent_datastore.edges.aws.events import (
    Invocation,
    deadline_from_context,
    http_result,
    invocation_of,
    request_id_of,
)
from agent_datastore.edges.aws.secrets import SECRET_CACHE
from agent_datastore.edges.http import Response
from agent_datastore.stores.base import Store

SERVICE = "agent-datastore"
METRICS_NAMESPACE = "AgentDataStore"
# What the X-Ray SDK patches: DynamoDB, Secrets Manager and SSM calls all go through botocore.
TRACED_MODULES = ("botocore",)


class AwsApi(Api):
    """`Api` of a Lambda function: many instances answer one deployment (`shared_cursor_key`).

    The `list_keys` cursor secret comes from Secrets Manager (DATASTORE_CURSOR_SECRET_ARN, made
    by template.yaml) unless DATASTORE_CURSOR_SECRET is set; without either, it is derived from
    the token secret (in the environment, or in Secrets Manager or SSM). Fetched on the first
    request that needs settings, never at import.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        store: Store | None = None,
        remote: SecretSource = SECRET_CACHE,
        named_secret: Callable[[str], str] = SECRET_CACHE.named,
    ) -> None:
        super().__init__(settings, store)
        self.remote = remote
        self.named_secret = named_secret

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            settings = replace(Settings.from_env(), shared_cursor_key=True)
            if not settings.cursor_secret and settings.cursor_secret_arn:
                settings = replace(settings, cursor_secret=self.named_secret(settings.cursor_secret_arn))
            self._settings = with_remote_cursor_secret(settings, self.remote)
        return self._settings


class LambdaHandler:
    """The Lambda handler of one operation (None: route by the event's path).

    HTTP events get `{"statusCode", "headers", "body": <JSON text>}`; direct
    invocations get `{"statusCode", "body": <JSON object>}` (API.md section 4).
    Token secrets named by ARN or parameter come from `remote`.
    """

    def __init__(self, operation: str | None, api: Api | None = None, remote: SecretSource = SECRET_CACHE) -> None:
        self.operation = operation
        self.api = api or Api()
        self.remote = remote

    def __call__(self, event: Any, context: Any = None) -> dict[str, Any]:
        return self.respond(invocation_of(event), context, request_id_of(event, context))[1]

    def respond(self, invocation: Invocation, context: Any, request_id: str) -> tuple[Response, dict[str, Any]]:
        """The neutral answer (its code for the metrics) and what the function returns."""
        from agent_datastore.edges import dispatch  # with the first event, not at import

        deadline = deadline_from_context(context)
        if invocation.request is None:
            response = dispatch.answer_direct(self.api, invocation.event, self.operation, request_id, deadline)
            return response, response.invocation_result()
        response = dispatch.answer_http(
            self.api,
            invocation.request,
            self.operation,
            request_id,
            deadline,
            remote=self.remote,
            unreadable=invocation.unreadable,
        )
        return response, http_result(response, request_id)


def trace_sampled() -> bool:
    """Whether X-Ray samples this invocation: Lambda writes its decision into `_X_AMZN_TRACE_ID`
    before each one (`Sampled=1`); an unsampled invocation records nothing."""
    return "Sampled=1" in os.environ.get("_X_AMZN_TRACE_ID", "")


def make_handler(operation: str | None, api: Api | None = None) -> LambdaHandler:
    return LambdaHandler(operation, api)


class PowertoolsHandler:
    """`LambdaHandler` with Logger, Tracer and Metrics around it (see the module's docstring)."""

    def __init__(self, operation: str, api: Api | None = None, logger: Any = None) -> None:
        from aws_lambda_powertools.logging import Logger
        from aws_lambda_powertools.metrics import MetricUnit, single_metric

        self.service = os.environ.get("POWERTOOLS_SERVICE_NAME") or SERVICE
        self.operation = operation
        self.core = LambdaHandler(operation, api or AwsApi())
        self.logger = logger or Logger(service=self.service)
        self._tracer: Any = None
        self.namespace = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or METRICS_NAMESPACE
        self._metric, self._count = single_metric, MetricUnit.Count

    @property
    def api(self) -> Api:
        return self.core.api

    @property
    def tracer(self) -> Any:
        """The Powertools Tracer, made on first use: it imports the X-Ray SDK even when disabled."""
        if self._tracer is None:
            from aws_lambda_powertools.tracing import Tracer

            self._tracer = Tracer(service=self.service, patch_modules=TRACED_MODULES)
        return self._tracer

    def __call__(self, event: Any, context: Any = None) -> dict[str, Any]:
        operation = self.operation
        request_id = request_id_of(event, context)
        invocation = invocation_of(event)
        user_id = invocation.user_id
        self.logger.append_keys(
            request_id=request_id, operation=operation, transport=invocation.transport, user_id=user_id
        )
        try:
            if self._tracer is None and not trace_sampled():
                # Nothing of an unsampled trace is recorded: the X-Ray SDK waits for a sampled one.
                response, result = self.core.respond(invocation, context, request_id)
            else:
                with self.tracer.provider.in_subsegment(f"## {operation}") as subsegment:
                    subsegment.put_annotation("operation", operation)
                    response, result = self.core.respond(invocation, context, request_id)
                    subsegment.put_annotation("code", response.code)
        finally:
            self.logger.remove_keys(["request_id", "operation", "transport", "user_id"])
        with self._metric(name="Requests", unit=self._count, value=1, namespace=self.namespace) as metric:
            metric.add_dimension(name="operation", value=operation)
            metric.add_dimension(name="code", value=response.code)
        log = self.logger.warning if response.status >= 500 else self.logger.info
        log(
            "request finished",
            extra={
                "request_id": request_id,
                "operation": operation,
                "user_id": user_id,
                "status": response.status,
                "code": response.code,
            },
        )
        return result


def aws_handler(operation: str, api: Api | None = None, logger: Any = None) -> PowertoolsHandler:
    """The Lambda handler of one operation, with Logger, Tracer and Metrics."""
    return PowertoolsHandler(operation, api, logger)
