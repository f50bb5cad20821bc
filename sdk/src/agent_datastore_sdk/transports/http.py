"""HTTP transport: `POST <url>/v1/<operation>` with httpx (sync and async).

One pooled client per transport (connections are reused), explicit timeouts,
and the retry policy of `base.RetryPolicy`. The bearer token, when there is
one, is sent as `Authorization`; through the sandbox proxy there is none.
"""

from __future__ import annotations

import json
from typing import Any, Generic, TypeVar

import httpx

from .. import __version__, errors
from .base import NO_RETRIES, Call, RetryPolicy, arun_with_retries, parse_retry_after, run_with_retries

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0, pool=10.0)

# Failures where the request certainly never reached the server.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


def _headers(token: str | None, agent: str | None, extra: dict[str, str] | None) -> dict[str, str]:
    headers = {
        "content-type": "application/json",
        "accept": "application/json",
        "user-agent": f"agent-datastore-sdk/{__version__}",
    }
    if token:
        headers["authorization"] = f"Bearer {token}"
    if agent:
        # Only honoured where the credential does not name the agent (gateway JWTs, local dev).
        headers["x-agent-name"] = agent
    headers.update(extra or {})
    return headers


def _answer(response: httpx.Response) -> dict[str, Any]:
    try:
        body = json.loads(response.content) if response.content else None
    except ValueError:
        body = None
    if response.status_code == 200 and isinstance(body, dict):
        return body
    if response.status_code == 200:
        raise errors.InternalError("the service answered 200 without a JSON object", status=200)
    raise errors.error_from_response(response.status_code, body, parse_retry_after(response.headers.get("retry-after")))


def _transport_error(exc: httpx.HTTPError, call: Call, url: str) -> errors.DataStoreError:
    if isinstance(exc, _NOT_SENT):
        return errors.ConnectionFailed(f"could not reach the data store at {url}: {exc!r}")
    return errors.OutcomeUnknown(f"no answer from {url} to {call.operation} (it may have been applied): {exc!r}")


ClientT = TypeVar("ClientT", httpx.Client, httpx.AsyncClient)


class _HttpEndpoint(Generic[ClientT]):
    """What both transports hold: the base URL, the retry policy and one pooled client."""

    _client_class: type[ClientT]

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        agent: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        retry: RetryPolicy | None = None,
        headers: dict[str, str] | None = None,
        client: ClientT | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self._owns_client = client is None
        self._client: ClientT = client or self._client_class(
            timeout=DEFAULT_TIMEOUT if timeout is None else timeout,
            headers=_headers(token, agent, headers),
        )


class HttpTransport(_HttpEndpoint[httpx.Client]):
    _client_class = httpx.Client

    def call(self, call: Call) -> dict[str, Any]:
        return run_with_retries(self.retry, call, lambda: self._once(call))

    def _once(self, call: Call) -> dict[str, Any]:
        try:
            response = self._client.post(f"{self.url}/v1/{call.operation}", content=call.data)
        except httpx.HTTPError as exc:
            raise _transport_error(exc, call, self.url) from exc
        return _answer(response)

    def close(self) -> None:
        if self._owns_client:
            self._client.close()


class AsyncHttpTransport(_HttpEndpoint[httpx.AsyncClient]):
    _client_class = httpx.AsyncClient

    async def call(self, call: Call) -> dict[str, Any]:
        return await arun_with_retries(self.retry, call, lambda: self._once(call))

    async def _once(self, call: Call) -> dict[str, Any]:
        try:
            response = await self._client.post(f"{self.url}/v1/{call.operation}", content=call.data)
        except httpx.HTTPError as exc:
            raise _transport_error(exc, call, self.url) from exc
        return _answer(response)

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()


__all__ = ["NO_RETRIES", "AsyncHttpTransport", "HttpTransport"]
