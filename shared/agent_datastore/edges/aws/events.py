"""AWS shapes in, neutral ones out: HTTP API (payload v2) events, the Lambda context.

The only module that reads `requestContext`. API Gateway delivers a text
body as it is and anything else base64-encoded; what its Lambda authorizer
(`authorizer.py`) or JWT authorizer verified sits in
`requestContext.authorizer` and becomes `edges.http.AuthorizerAnswer` /
`AuthorizerDenial` / `GatewayClaims`.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agent_datastore.core import errors
from agent_datastore.edges.http import (
    AuthorizerAnswer,
    AuthorizerDenial,
    GatewayClaims,
    HttpRequest,
    Response,
    Verified,
)


def is_http_event(event: Any) -> bool:
    return isinstance(event, Mapping) and isinstance((event.get("requestContext") or {}).get("http"), Mapping)


def request_id_of(event: Any, context: Any) -> str:
    rid = getattr(context, "aws_request_id", None)
    if not rid and isinstance(event, Mapping):
        rid = (event.get("requestContext") or {}).get("requestId")
    return str(rid or uuid.uuid4())


def deadline_from_context(context: Any) -> float | None:
    """Leave a margin before the function's own timeout for answering."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return None
    seconds = float(remaining()) / 1000
    return time.monotonic() + max(seconds - 3.0, 0.5)


def headers_of(event: Mapping[str, Any]) -> dict[str, str]:
    """The event's headers with lower-case names. API Gateway sends an object of strings; in any
    other shape (a hand-made or corrupted event) there are none, and a value that is not text is
    left out, so a request without a readable credential is denied rather than crashing."""
    headers = event.get("headers")
    if not isinstance(headers, Mapping):
        return {}
    return {name.lower(): value for name, value in headers.items() if isinstance(name, str) and isinstance(value, str)}


@dataclass(frozen=True)
class Invocation:
    """One Lambda event, translated: an HTTP API event's neutral request (with the error met
    decoding its body, which only a hand-made event has), or else a direct invocation;
    `user_id` is for the logs: whom the authorizer names, or whom the direct caller names."""

    event: Any
    user_id: str | None
    request: HttpRequest | None = None
    unreadable: errors.DataStoreError | None = None

    @property
    def transport(self) -> str:
        return "direct" if self.request is None else "http"


def invocation_of(event: Any) -> Invocation:
    if not is_http_event(event):
        identity = event.get("identity") if isinstance(event, Mapping) else None
        user = identity.get("userId") if isinstance(identity, Mapping) else None
        return Invocation(event, user if isinstance(user, str) else None)
    context = event.get("requestContext") or {}
    http = context["http"]
    method = str(http.get("method", "POST")).upper()
    path = str(event.get("rawPath") or http.get("path", ""))
    raw = event.get("body")
    body, unreadable = b"", None
    if event.get("isBase64Encoded"):
        try:
            body = base64.b64decode("" if raw is None else raw, validate=True)
        except (binascii.Error, ValueError, TypeError):
            unreadable = errors.InvalidJson("request body is not valid base64")
    elif raw is not None:
        # A body written as a JSON value rather than as text is that value, as text. A lone
        # surrogate (the runtime's JSON decoder lets `\ud800` through) goes back to that escape,
        # so the body still denotes the string the event held.
        text = raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False)
        body = text.encode("utf-8", "backslashreplace")
    request = HttpRequest(method, path, headers_of(event), body, verified_of(context))
    return Invocation(event, _named_user(context), request, unreadable)


def _named_user(context: Mapping[str, Any]) -> str | None:
    # Read as it stands, not as `verified_of` judges it: a malformed answer still names
    # the user it was about, which is what someone reading the logs of a 401 looks for.
    authorizer = context.get("authorizer") or {}
    if not isinstance(authorizer, Mapping):
        return None
    answer, jwt = authorizer.get("lambda") or {}, authorizer.get("jwt") or {}
    claims = (jwt.get("claims") if isinstance(jwt, Mapping) else None) or {}
    user = (answer.get("userId") if isinstance(answer, Mapping) else None) or (
        claims.get("sub") if isinstance(claims, Mapping) else None
    )
    return user if isinstance(user, str) else None


def verified_of(context: Mapping[str, Any]) -> Verified:
    """What the gateway's authorizer verified: the Lambda authorizer's answer, else the JWT claims."""
    authorizer = context.get("authorizer")
    if not isinstance(authorizer, Mapping):
        return None
    answer = authorizer.get("lambda")
    if isinstance(answer, Mapping):
        return authorizer_answer(answer)
    jwt = authorizer.get("jwt")
    claims = jwt.get("claims") if isinstance(jwt, Mapping) else None
    return GatewayClaims(claims) if isinstance(claims, Mapping) else None


def authorizer_answer(answer: Mapping[str, Any]) -> AuthorizerAnswer | AuthorizerDenial:
    """The context `authorizer.authorize` returned, as API Gateway passes it on."""
    denied = answer.get("denied")
    if denied is not None:
        return AuthorizerDenial(str(denied))
    user, named, ns_prefix = answer.get("userId"), answer.get("agentName"), answer.get("nsPrefix")
    read_only, expires = answer.get("readOnly", False), answer.get("expiresAt", math.inf)
    if isinstance(read_only, str):  # should API Gateway ever pass context values on as text
        read_only = {"true": True, "false": False}.get(read_only, read_only)
    if isinstance(expires, str) and expires.isdigit():
        expires = int(expires)
    if not (
        isinstance(user, str)
        and isinstance(named, (str, type(None)))
        and isinstance(ns_prefix, (str, type(None)))
        and isinstance(read_only, bool)
        and isinstance(expires, (int, float))
        and not isinstance(expires, bool)
    ):
        return AuthorizerDenial("the authorizer's answer is malformed")
    return AuthorizerAnswer(user, named, ns_prefix, read_only, expires)


def http_result(response: Response, request_id: str) -> dict[str, Any]:
    """What a function returns to API Gateway: the body as JSON text."""
    return {
        "statusCode": response.status,
        "headers": response.http_headers(request_id),
        "body": response.encoded_body(),
    }
