"""The Google Cloud Functions edge: a Flask request in, the dispatch's answer out.

Every target in `functions/gcp/main.py` is `<operation> = gcp_handler("<operation>")`.
A request becomes the neutral `HttpRequest` and goes through `edges.dispatch`,
so Google Cloud answers byte for byte what AWS answers (status, body,
`retry-after`; only the request id differs).

Identity (API.md section 5):

- Google API Gateway validates the caller's JWT and passes the claims in
  `X-Apigateway-Api-Userinfo`; it calls the function with its own Google ID
  token in `Authorization` and moves the caller's header to
  `X-Forwarded-Authorization`, which is therefore what is read as the
  caller's `Authorization` (so a capability token still works behind it).
- A capability token: `Authorization: Bearer <HS256 token>`, verified here.
- A trusted direct call: the function is private (Cloud Run IAM checks the
  caller's Google ID token before the request reaches this code); when that
  token's `email` is listed in DATASTORE_DIRECT_CALLERS and the request did
  not come through the gateway, the JSON body is a direct invocation
  (`{"identity": {...}, ...request}`) answered with
  `{"statusCode": n, "body": {...}}`, exactly like a Lambda Invoke.
"""

from __future__ import annotations

import base64
import binascii
import contextvars
import json
import logging
import os
import re
import sys
import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from agent_datastore.api.app import Api
from agent_datastore.core import errors, jsonutil
from agent_datastore.core.settings import Settings
from agent_datastore.edges import dispatch
from agent_datastore.edges.auth import bearer
from agent_datastore.edges.http import JSON_CONTENT_TYPE, GatewayClaims, HttpRequest, error_response

GOOGLE_ISSUERS = ("https://accounts.google.com", "accounts.google.com")
GATEWAY_HEADERS = ("x-forwarded-authorization", "x-apigateway-api-userinfo")

# -- logs as Cloud Logging reads them ----------------------------------------------------

# What Cloud Logging should attach to the log lines of the request being served: its
# request id and trace fields (set by `gcp_handler` around each request).
REQUEST_LOG: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("gcp_request_log", default=None)
_TRACE_ID = re.compile(r"[0-9a-f]{32}")
_CLOUD_TRACE = re.compile(r"([0-9a-fA-F]{32})(?:/(\d{1,20}))?(?:;o=([01]))?")
_TRACEPARENT = re.compile(r"[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")


def trace_fields(headers: Mapping[str, str], project: str | None) -> dict[str, Any]:
    """`logging.googleapis.com/trace` (and span, sampled) from `X-Cloud-Trace-Context`, else
    W3C `traceparent`; nothing when neither is well formed or the project is unknown (Cloud
    Logging links a trace only by its full name, projects/<project>/traces/<id>)."""
    trace = span = None
    sampled = False
    cloud = _CLOUD_TRACE.fullmatch(headers.get("x-cloud-trace-context", "").strip())
    parent = _TRACEPARENT.fullmatch(headers.get("traceparent", "").strip())
    if cloud:
        trace, sampled = cloud.group(1).lower(), cloud.group(3) == "1"
        span = f"{int(cloud.group(2)) % 2**64:016x}" if cloud.group(2) else None
    elif parent:
        trace, span, sampled = parent.group(1), parent.group(2), int(parent.group(3), 16) & 1 == 1
    if not project or trace is None or not _TRACE_ID.fullmatch(trace) or trace == "0" * 32:
        return {}
    fields: dict[str, Any] = {"logging.googleapis.com/trace": f"projects/{project}/traces/{trace}"}
    if span:
        fields["logging.googleapis.com/spanId"] = span
    fields["logging.googleapis.com/trace_sampled"] = sampled
    return fields


SEVERITY = {"DEBUG": "DEBUG", "INFO": "INFO", "WARNING": "WARNING", "ERROR": "ERROR", "CRITICAL": "CRITICAL"}


class CloudLoggingFormatter(logging.Formatter):
    """One JSON object a line, which Cloud Logging reads from a function's output as a structured
    entry: `severity`, `message` (the log call's own text, with the traceback of an exception; no
    request values are logged), the logger, and for a line written while a request is served its
    request id (a label) and trace."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info:
            message = f"{message}\n{self.formatException(record.exc_info)}"  # Error Reporting reads it
        entry: dict[str, Any] = {
            "severity": SEVERITY.get(record.levelname, "DEFAULT"),
            "message": message,
            "logger": record.name,
        }
        entry.update(REQUEST_LOG.get() or {})
        return json.dumps(entry, ensure_ascii=False)


class _StandardError(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is at the time (as logging's own last resort does)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _: Any) -> None:
        pass


def use_cloud_logging() -> None:
    """Log `agent_datastore.*` to standard error as Cloud Logging's structured JSON (once)."""
    logger = logging.getLogger("agent_datastore")
    if any(isinstance(handler.formatter, CloudLoggingFormatter) for handler in logger.handlers):
        return
    handler = _StandardError()
    handler.setFormatter(CloudLoggingFormatter())
    logger.addHandler(handler)
    level = os.environ.get("LOG_LEVEL")
    if level:
        logger.setLevel(level.upper())


def request_id(headers: Mapping[str, str]) -> str:
    """Cloud Functions' execution id, else the trace id, else a fresh one."""
    execution = headers.get("function-execution-id")
    if execution:
        return execution
    trace = headers.get("x-cloud-trace-context", "").split("/")[0]
    return trace or str(uuid.uuid4())


def direct_caller(headers: Mapping[str, str], allowed: str) -> str | None:
    """The trusted service account calling the function directly, if any.

    The signature is not checked again here: a private function is only reached
    with a Google ID token Cloud Run IAM has verified.
    """
    callers = {entry.strip() for entry in allowed.split(",") if entry.strip()}
    if not callers or any(name in headers for name in GATEWAY_HEADERS):
        return None
    token = bearer(headers)
    if token is None:
        return None
    import jwt  # only for a configured direct call: the gateway's requests never load it

    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    email = claims.get("email")
    if claims.get("iss") in GOOGLE_ISSUERS and isinstance(email, str) and email in callers:
        return email
    return None


def claims_from_userinfo(userinfo: str) -> Mapping[str, Any]:
    """Google API Gateway's `X-Apigateway-Api-Userinfo`: base64url JSON of the verified claims
    (none when malformed, so the request is answered 401 for want of a subject)."""
    try:
        decoded = json.loads(base64.urlsafe_b64decode(userinfo + "=" * (-len(userinfo) % 4)))
    except (binascii.Error, ValueError):
        return {}
    return decoded if isinstance(decoded, Mapping) else {}


def http_request(method: str, path: str, headers: Mapping[str, str], body: bytes) -> HttpRequest:
    """The neutral request of one that came in over HTTPS; `headers` with lower-case names."""
    headers = dict(headers)
    forwarded = headers.pop("x-forwarded-authorization", None)
    if forwarded is not None:
        headers["authorization"] = forwarded
    userinfo = headers.pop("x-apigateway-api-userinfo", None)
    # Only Google API Gateway reaches the functions (they are private), so the header is its own.
    verified = None if userinfo is None else GatewayClaims(claims_from_userinfo(userinfo))
    return HttpRequest(method.upper(), path, headers, body, verified)


class FunctionsApi(Api):
    """`Api` of a Cloud Function: many instances answer one deployment, so `list_keys` cursors
    need the secret infra/gcp hands the list_keys functions (DATASTORE_CURSOR_SECRET) or one
    derived from the token secret (`Settings.shared_cursor_key`)."""

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = replace(Settings.from_env(), shared_cursor_key=True)
        return self._settings


def gcp_handler(operation: str | None, api: Api | None = None) -> Callable[[Any], tuple[str, int, dict[str, str]]]:
    """A functions-framework HTTP target for one operation (None: route by path, for local use).

    A plain function: functions-framework takes nothing else as a target.
    """
    shared = api or FunctionsApi()
    use_cloud_logging()
    project = os.environ.get("GOOGLE_CLOUD_PROJECT") or os.environ.get("GCP_PROJECT")

    def handle(request: Any) -> tuple[str, int, dict[str, str]]:
        headers = {str(name).lower(): str(value) for name, value in request.headers.items()}
        rid = request_id(headers)
        context = REQUEST_LOG.set(
            {"logging.googleapis.com/labels": {"request_id": rid}, **trace_fields(headers, project)}
        )
        try:
            return _answer(shared, operation, request, headers, rid)
        finally:
            REQUEST_LOG.reset(context)

    return handle


def _answer(
    shared: Api, operation: str | None, request: Any, headers: dict[str, str], rid: str
) -> tuple[str, int, dict[str, str]]:
    body: bytes = request.get_data(cache=False)
    if direct_caller(headers, shared.settings.direct_callers) is not None and request.method == "POST":
        return _direct(shared, operation, body, rid)
    neutral = http_request(request.method, request.path, headers, body)
    response = dispatch.answer_http(shared, neutral, operation, rid)
    return response.encoded_body(), response.status, response.http_headers(rid)


def _direct(api: Api, operation: str | None, body: bytes, rid: str) -> tuple[str, int, dict[str, str]]:
    """A direct invocation, answered as a Lambda Invoke is: always 200, the outcome inside."""
    try:
        dispatch.check_size(body)  # as every transport's
        event = jsonutil.loads(body)
    except errors.DataStoreError as exc:
        response = error_response(exc, rid)
    else:
        response = dispatch.answer_direct(api, event, operation, rid, None)
    return jsonutil.dumps(response.invocation_result()), 200, {"content-type": JSON_CONTENT_TYPE, "x-request-id": rid}
