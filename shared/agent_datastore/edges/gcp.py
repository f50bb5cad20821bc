"""The Google Cloud Functions edge: a Flask request in, the shared handler's answer out.

Every target in `functions/gcp/main.py` is `<operation> = gcp_handler("<operation>")`.
A request becomes the same AWS HTTP API v2 event the local server builds and
goes through `adapter.make_handler`, so Google Cloud answers byte for byte
what AWS answers (status, body, `retry-after`; only the request id differs).

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
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import jwt

from agent_datastore.core import errors, jsonutil
from agent_datastore.edges.auth import bearer, claims_from_userinfo
from agent_datastore.edges.http import Api, error_response, make_handler

GOOGLE_ISSUERS = ("https://accounts.google.com", "accounts.google.com")
GATEWAY_HEADERS = ("x-forwarded-authorization", "x-apigateway-api-userinfo")


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
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    email = claims.get("email")
    if claims.get("iss") in GOOGLE_ISSUERS and isinstance(email, str) and email in callers:
        return email
    return None


def http_event(method: str, path: str, headers: Mapping[str, str], body: bytes, rid: str) -> dict[str, Any]:
    """The AWS HTTP API v2 event of an HTTP request (text bodies as text, others base64)."""
    lowered = {name.lower(): value for name, value in headers.items()}
    forwarded = lowered.pop("x-forwarded-authorization", None)
    if forwarded is not None:
        lowered["authorization"] = forwarded
    context: dict[str, Any] = {"http": {"method": method.upper(), "path": path}, "requestId": rid}
    userinfo = lowered.pop("x-apigateway-api-userinfo", None)
    if userinfo is not None:
        # Verified by Google API Gateway (the functions are private): put the claims
        # where API Gateway's JWT authorizer puts them, the only place auth reads claims.
        try:
            context["authorizer"] = {"jwt": {"claims": dict(claims_from_userinfo(userinfo))}}
        except errors.Unauthorized:
            context["authorizer"] = {"jwt": {"claims": {}}}  # answered 401: no subject
    event: dict[str, Any] = {
        "version": "2.0",
        "rawPath": path,
        "headers": lowered,
        "requestContext": context,
        "isBase64Encoded": False,
    }
    try:
        event["body"] = body.decode("utf-8")
    except UnicodeDecodeError:
        event["body"] = base64.b64encode(body).decode("ascii")
        event["isBase64Encoded"] = True
    return event


def gcp_handler(operation: str | None, api: Api | None = None) -> Callable[[Any], tuple[str, int, dict[str, str]]]:
    """A functions-framework HTTP target for one operation (None: route by path, for local use)."""
    shared = api or Api()
    lambda_handler = make_handler(operation, shared)

    def handle(request: Any) -> tuple[str, int, dict[str, str]]:
        headers = {str(name).lower(): str(value) for name, value in request.headers.items()}
        rid = request_id(headers)
        body: bytes = request.get_data(cache=False)
        if direct_caller(headers, shared.settings.direct_callers) is not None and request.method == "POST":
            return _direct(lambda_handler, body, rid)
        event = http_event(request.method, request.path, headers, body, rid)
        result = lambda_handler(event, None)
        return result["body"], int(result["statusCode"]), dict(result["headers"])

    handle.api = shared  # type: ignore[attr-defined]
    return handle


def _direct(
    lambda_handler: Callable[[Any, Any], dict[str, Any]], body: bytes, rid: str
) -> tuple[str, int, dict[str, str]]:
    headers = {"content-type": "application/json; charset=utf-8", "x-request-id": rid}
    try:
        event = jsonutil.loads(body)
    except errors.DataStoreError as exc:
        response = error_response(exc, rid)
        result: dict[str, Any] = {"statusCode": response.status, "body": response.body}
    else:
        context = _Context(rid)
        result = lambda_handler(event, context)
    return jsonutil.dumps(result), 200, headers


class _Context:
    """What `adapter.request_id_of` reads from a Lambda context."""

    def __init__(self, rid: str) -> None:
        self.aws_request_id = rid
