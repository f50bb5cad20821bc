"""Firestore access shared by every operation: client, references, SDK errors, transactions, reads.

`FirestoreBase` holds what the operation modules (`firestore_reads.py`,
`firestore_writes.py`, `firestore_registry.py`) build on; `FirestoreStore` in
`firestore.py` puts them together.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any, TypeVar

from agent_datastore.core.errors import BackendUnavailable, DataStoreError, Throttled
from agent_datastore.core.records import Record, Scope, record_from_fields
from agent_datastore.stores.base import Store
from agent_datastore.stores.firestore.layout import (
    PART_BYTES,
    namespace_doc_id,
    prefix_range,
    unpack_value,
    user_doc_id,
)
from agent_datastore.stores.retry import backoff

T = TypeVar("T")
Data = dict[str, Any]

STRIPES = 64


class _Torn(Exception):
    """A value's parts changed between two non-transactional reads; read again."""


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


class FirestoreBase(Store):
    def __init__(
        self,
        collection: str = "agent_data_store",
        *,
        client: Any = None,
        project: str | None = None,
        database: str | None = None,
        part_bytes: int = PART_BYTES,
        contention_seconds: float = 15.0,
    ) -> None:
        self.collection = collection
        self.project = project
        self.database = database
        self.part_bytes = part_bytes
        self.contention_seconds = contention_seconds
        self._client = client
        self._lock = threading.Lock()
        self._stripes = [threading.Lock() for _ in range(STRIPES)]

    # -- client, references, errors ------------------------------------------

    @property
    def client(self) -> Any:
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

    def _user(self, user_id: str) -> Any:
        return self.client.collection(self.collection).document(user_doc_id(user_id))

    def _registry(self, scope: Scope) -> Any:
        return self._user(scope.user_id).collection("namespaces").document(namespace_doc_id(scope.namespace))

    def _records(self, scope: Scope) -> Any:
        return self._registry(scope).collection("records")

    def _markers(self, scope: Scope) -> Any:
        return self._registry(scope).collection("expiring")

    def _refs(self, scope: Scope, key_id: str) -> tuple[Any, Any]:
        return self._records(scope).document(key_id), self._markers(scope).document(key_id)

    def _key_refs(self, scope: Scope, key_ids: list[str]) -> list[Any]:
        return [self._records(scope).document(key_id) for key_id in key_ids]

    @staticmethod
    def _part(ref: Any, index: int) -> Any:
        return ref.collection("parts").document(f"p{index}")

    @contextmanager
    def _sdk(self) -> Iterator[None]:
        try:
            yield
        except DataStoreError:
            raise
        except Exception as exc:
            mapped = translate(exc)
            if mapped is None:
                raise
            raise mapped from exc

    # -- transactions ----------------------------------------------------------

    def _transact(self, fn: Callable[[Any], T], refs: list[Any]) -> T:
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
                with self._sdk():
                    try:
                        result: T = transactional(fn)(self.client.transaction(max_attempts=3))
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

    # -- reads -------------------------------------------------------------------

    def _read(self, refs: list[Any], tx: Any = None, fields: list[str] | None = None) -> dict[str, Data]:
        """Existing documents by path: one BatchGetDocuments."""
        if not refs:
            return {}
        with self._sdk():
            snaps = self.client.get_all(refs, field_paths=fields, transaction=tx)
            return {snap.reference.path: snap.to_dict() or {} for snap in snaps if snap.exists}

    def _values(self, docs: list[tuple[Any, Data]], tx: Any = None) -> dict[str, str]:
        """Value JSON by record path, reading the parts of split values in one more RPC."""
        split = [(ref, data) for ref, data in docs if "parts" in data]
        parts = self._read([self._part(ref, i) for ref, data in split for i in range(data["parts"])], tx)
        values = {}
        for ref, data in docs:
            if "parts" not in data:
                values[ref.path] = unpack_value(data)
                continue
            chunks = [parts.get(self._part(ref, i).path) for i in range(data["parts"])]
            if any(chunk is None or chunk.get("gen") != data.get("gen") for chunk in chunks):
                raise _Torn(ref.path)
            values[ref.path] = unpack_value(data, [chunk["data"] for chunk in chunks if chunk is not None])
        return values

    def _untorn(self, fn: Callable[[], T]) -> T:
        for _ in range(20):
            try:
                return fn()
            except _Torn:
                time.sleep(0.01)
        raise BackendUnavailable("a large value kept changing while it was read")

    @staticmethod
    def _record(scope: Scope, key: str, data: Data, value_json: str) -> Record:
        return record_from_fields(scope, key, value_json, data)

    def _range(self, collection: Any, tag: str, prefix: str, after_id: str | None) -> Any:
        from google.cloud.firestore import FieldFilter

        low, high = prefix_range(tag, prefix)
        query = collection.order_by("__name__")
        if after_id is not None and after_id >= low:
            query = query.where(filter=FieldFilter("__name__", ">", collection.document(after_id)))
        else:
            query = query.where(filter=FieldFilter("__name__", ">=", collection.document(low)))
        if high is not None:
            query = query.where(filter=FieldFilter("__name__", "<", collection.document(high)))
        return query

    def _stream(self, query: Any) -> list[Any]:
        with self._sdk():
            return list(query.stream())

    def _registry_docs(self, user_id: str, prefix: str = "") -> list[Data]:
        """The user's namespace registry entries, by namespace (UTF-8 bytes)."""
        collection = self._user(user_id).collection("namespaces")
        return [doc.to_dict() or {} for doc in self._stream(self._range(collection, "n", prefix, None))]
