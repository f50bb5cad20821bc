"""The Firestore SDK client of `FirestoreStore`, its errors in domain terms, its transactions.

Every call goes through `FirestoreClient`: SDK failures become domain
errors (`Throttled`, `BackendUnavailable`) in `sdk()`, transactions are
retried on contention in `transact`, and batched reads and queries are one
RPC each. No google.api_core exception leaves this module but as the cause
of a domain error.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any, TypeVar

from agent_datastore.core.errors import BackendUnavailable, DataStoreError, Throttled
from agent_datastore.stores.fairlock import FairLock
from agent_datastore.stores.retry import backoff

T = TypeVar("T")
Data = dict[str, Any]

STRIPES = 64


def translate(exc: BaseException) -> DataStoreError | None:
    """The domain error for an SDK failure (None: a bug, left to surface as 500)."""
    from google.api_core import exceptions as gexc

    if isinstance(exc, (gexc.ResourceExhausted, gexc.TooManyRequests)):
        return Throttled(f"Firestore is throttling requests: {exc.message}")
    transient = (
        gexc.Aborted,
        gexc.DeadlineExceeded,
        gexc.ServiceUnavailable,
        gexc.InternalServerError,
        gexc.Unknown,
        gexc.Cancelled,
        gexc.GatewayTimeout,
        gexc.BadGateway,
    )
    if isinstance(exc, transient):
        return BackendUnavailable(f"Firestore is unavailable: {type(exc).__name__}")
    if isinstance(exc, gexc.RetryError):
        return BackendUnavailable("Firestore did not answer in time")
    return None


class FirestoreClient:
    """A lazily created, injectable `google.cloud.firestore.Client` with error translation."""

    def __init__(
        self,
        client: Any = None,
        *,
        project: str | None = None,
        database: str | None = None,
        contention_seconds: float = 15.0,
    ) -> None:
        self.project = project
        self.database = database
        self.contention_seconds = contention_seconds
        self._client = client
        self._lock = threading.Lock()
        self._stripes = [FairLock() for _ in range(STRIPES)]

    @property
    def raw(self) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    from google.cloud import firestore

                    self._client = firestore.Client(project=self.project, database=self.database)
        return self._client

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()

    @contextmanager
    def sdk(self) -> Iterator[None]:
        """SDK failures inside the block become domain errors."""
        try:
            yield
        except DataStoreError:
            raise
        except Exception as exc:
            mapped = translate(exc)
            if mapped is None:
                raise
            raise mapped from exc

    def read(
        self,
        refs: list[Any],
        tx: Any = None,
        fields: list[str] | None = None,
        enough: Callable[[str, Data | None], bool] | None = None,
    ) -> dict[str, Data]:
        """Existing documents by path: one BatchGetDocuments. With `enough`, called with each
        document as it arrives (None: missing), the stream is cancelled once it answers True
        and the documents not yet received are not read."""
        found: dict[str, Data] = {}
        if not refs:
            return found
        with self.sdk():
            snaps = self.raw.get_all(refs, field_paths=fields, transaction=tx)
            try:
                for snap in snaps:
                    data = (snap.to_dict() or {}) if snap.exists else None
                    if data is not None:
                        found[snap.reference.path] = data
                    if enough is not None and enough(snap.reference.path, data):
                        break
            finally:
                snaps.close()
        return found

    def stream(self, query: Any) -> list[Any]:
        """Every document `query` yields: one RunQuery."""
        with self.sdk():
            return list(query.stream())

    def transact(self, fn: Callable[[Any], T], refs: list[Any]) -> T:
        """Run `fn(transaction)` and commit; contention is retried here, with backoff.

        Transactions of this process that read the same documents first queue on
        a striped lock: two Firestore transactions that read a document and then
        both write it deadlock until one times out (the emulator waits seconds),
        so in-process contention is settled here and Firestore only arbitrates
        between processes.
        """
        with ExitStack() as stack:
            for index in sorted({hash(ref.path) % STRIPES for ref in refs}):
                stack.enter_context(self._stripes[index])
            return self._transact_unlocked(fn)

    def _transact_unlocked(self, fn: Callable[[Any], T]) -> T:
        from google.api_core.exceptions import Aborted
        from google.cloud.firestore import transactional

        deadline = time.monotonic() + self.contention_seconds
        attempt = 0
        while True:
            try:
                with self.sdk():
                    try:
                        result: T = transactional(fn)(self.raw.transaction(max_attempts=3))
                        return result
                    except ValueError as exc:  # the SDK's "retries exhausted", caused by Aborted
                        if isinstance(exc.__cause__, Aborted):
                            raise exc.__cause__ from exc
                        raise
            except BackendUnavailable as exc:
                if not isinstance(exc.__cause__, Aborted) or time.monotonic() >= deadline:
                    raise
            backoff(attempt, base=0.01, cap=0.5)
            attempt += 1
