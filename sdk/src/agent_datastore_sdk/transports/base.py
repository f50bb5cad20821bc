"""The one small interface every transport implements, and the retry policy they share.

A transport takes a `Call` (operation, body, its JSON bytes, whether it is
safe to repeat) and returns the decoded 200 body, or raises one of the
exceptions in `agent_datastore_sdk.errors`.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from .. import errors


@dataclass(frozen=True)
class Call:
    operation: str
    body: dict[str, Any]
    data: bytes  # `body` as compact UTF-8 JSON, encoded once before anything is sent
    # True when repeating the call cannot change its outcome (reads, plain
    # set/delete/clear, set_many): then an answer lost in transit may be
    # retried. `increment` and writes with `if_version` are not.
    idempotent: bool = True


@runtime_checkable
class Transport(Protocol):
    def call(self, call: Call) -> dict[str, Any]: ...

    def close(self) -> None: ...


@runtime_checkable
class AsyncTransport(Protocol):
    async def call(self, call: Call) -> dict[str, Any]: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter; a server's Retry-After is a floor.

    When a retry happens:
    - 429 `throttled`: always (the request was refused before it ran);
    - connection not established: always (nothing was sent);
    - 503 / answer lost after sending: only for idempotent calls.
    """

    attempts: int = 4  # total tries, first one included
    base_delay: float = 0.1
    max_delay: float = 5.0
    max_retry_after: float = 30.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before try number `attempt + 1` (attempt counts from 1)."""
        backoff = self.rng.uniform(0, min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))
        if retry_after is not None:
            return max(backoff, min(retry_after, self.max_retry_after))
        return backoff

    def should_retry(self, exc: errors.DataStoreError, call: Call, attempt: int) -> bool:
        if attempt >= self.attempts:
            return False
        if isinstance(exc, (errors.Throttled, errors.ConnectionFailed)):
            return True
        if isinstance(exc, (errors.BackendUnavailable, errors.OutcomeUnknown)):
            return call.idempotent
        return False


NO_RETRIES = RetryPolicy(attempts=1)


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(moment.timestamp() - time.time(), 0.0)


def run_with_retries(policy: RetryPolicy, call: Call, attempt_once: Any, sleep: Any = time.sleep) -> dict[str, Any]:
    attempt = 1
    while True:
        try:
            result: dict[str, Any] = attempt_once()
            return result
        except errors.DataStoreError as exc:
            if not policy.should_retry(exc, call, attempt):
                raise
            sleep(policy.delay(attempt, getattr(exc, "retry_after", None)))
            attempt += 1


async def arun_with_retries(policy: RetryPolicy, call: Call, attempt_once: Any) -> dict[str, Any]:
    attempt = 1
    while True:
        try:
            result: dict[str, Any] = await attempt_once()
            return result
        except errors.DataStoreError as exc:
            if not policy.should_retry(exc, call, attempt):
                raise
            await asyncio.sleep(policy.delay(attempt, getattr(exc, "retry_after", None)))
            attempt += 1


class ThreadedAsyncTransport:
    """Runs a blocking transport (in-process, boto3) from `AsyncDataStore` in a worker thread."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    async def call(self, call: Call) -> dict[str, Any]:
        return await asyncio.to_thread(self.transport.call, call)

    async def aclose(self) -> None:
        await asyncio.to_thread(self.transport.close)
