"""CouchDB: one database, one document per record, over CouchDB's HTTP API.

Layout (API.md section 7). A record's `_id` is

    r-<hex(utf8(user_id))>-<hex(utf8(namespace))>-<hex(utf8(key))>

Hex digits never contain `-`, so the id is unambiguous for every input, and
because `-` sorts below every hex digit, ordering ids by their bytes orders
records by user, then namespace, then key, each by its UTF-8 bytes. CouchDB 3
orders `_all_docs` by raw bytes, PouchDB by UTF-16 code units; on an ASCII-only
id the two agree, so one user's namespace is one contiguous, byte-ordered
`_all_docs` range (`r-<u>-<n>-` up to `r-<u>-<n>-g`) and a key prefix is a
range too.

Every record change is a compare-and-swap on `_rev`: read the document, apply
the pure rules of `records.py`, write it back with the `_rev` that was read.
A 409 means someone else won the race; the loop reads again and re-applies,
with jittered backoff and a bounded number of attempts (then a retryable 503,
nothing half-done). `if_version` and access tracking are exact because of this.

The namespace registry (key count, bytes, latest write per namespace) is a
reduce view of the design document `_design/agent_datastore`, maintained by
CouchDB itself from the same documents: it cannot drift from the records the
way a separately updated counter document could (there are no cross-document
transactions), and it is no write hotspot. A second view indexes expiry times
so that expired records are filtered and swept without scanning keys.
"""

from __future__ import annotations

import contextlib
import json
import random
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import httpx

from ..errors import BackendUnavailable, InternalError, Throttled, ValueTooLarge
from ..records import (
    NamespaceStats,
    Record,
    Scope,
    Write,
    apply_read,
    apply_write,
    check_version,
    increment_value,
)
from ..settings import Settings
from ..store import ManyResult, Store, response_cost

DESIGN_ID = "_design/agent_datastore"
# Views see only the ASCII hex segments of the id, never the raw strings: view
# keys collate with ICU, which may treat distinct Unicode strings as equal.
DESIGN: dict[str, Any] = {
    "language": "javascript",
    "views": {
        "namespaces": {
            "map": (
                "function (doc) { if (doc.type === 'record') { var p = doc._id.split('-');"
                " emit([p[1], p[2]], [1, doc.size, doc.updated_at]); } }"
            ),
            "reduce": (
                "function (keys, values, rereduce) { var r = [0, 0, 0];"
                " for (var i = 0; i < values.length; i++) { r[0] += values[i][0]; r[1] += values[i][1];"
                " if (values[i][2] > r[2]) { r[2] = values[i][2]; } } return r; }"
            ),
        },
        "expiry": {
            "map": (
                "function (doc) { if (doc.type === 'record' && typeof doc.expires_at === 'number') {"
                " var p = doc._id.split('-'); var x = doc.expires_at;"
                " emit(['all', x], doc._rev); emit(['user', p[1], x], doc._rev);"
                " emit(['ns', p[1], p[2], x], doc._rev); } }"
            ),
        },
    },
}
PAGE = 500  # ids per _all_docs page
DOC_PAGE = 8  # whole documents per request (values reach 1 MiB)
BULK_BYTES = 4 * 1024 * 1024  # body size of one _bulk_docs write


def _hex(text: str) -> str:
    return text.encode("utf-8").hex()


def _unhex(text: str) -> str:
    return bytes.fromhex(text).decode("utf-8")


def record_id(scope: Scope, key: str) -> str:
    return f"r-{_hex(scope.user_id)}-{_hex(scope.namespace)}-{_hex(key)}"


def namespace_prefix(scope: Scope) -> str:
    return f"r-{_hex(scope.user_id)}-{_hex(scope.namespace)}-"


def to_doc(record: Record) -> dict[str, Any]:
    # Value and metadata are stored as their compact JSON text, so numbers and
    # key order round-trip byte for byte whatever the server's JSON library does.
    return {
        "_id": record_id(Scope(record.user_id, record.namespace), record.key),
        "type": "record",
        "user_id": record.user_id,
        "namespace": record.namespace,
        "key": record.key,
        "value": record.value_json,
        "metadata": record.metadata_json,
        "created_by_agent": record.created_by_agent,
        "last_accessed_by_agent": record.last_accessed_by_agent,
        "access_count": record.access_count,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "version": record.version,
        "expires_at": record.expires_at,
        "size": record.size,
    }


def from_doc(doc: dict[str, Any]) -> Record:
    return Record(
        user_id=doc["user_id"],
        namespace=doc["namespace"],
        key=doc["key"],
        value_json=doc["value"],
        metadata=json.loads(doc["metadata"]),
        created_by_agent=doc["created_by_agent"],
        last_accessed_by_agent=doc["last_accessed_by_agent"],
        access_count=doc["access_count"],
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
        version=doc["version"],
        expires_at=doc.get("expires_at"),
    )


def _body(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class Conflict(Exception):
    """A `_rev` lost a race (409); the CAS loop reads again."""


class CouchDBStore(Store):
    name = "couchdb"

    def __init__(
        self,
        url: str,
        db: str = "agent_data_store",
        *,
        client: httpx.Client | None = None,
        timeout: float = 30.0,
        max_attempts: int = 60,
    ) -> None:
        parts = urlsplit(url)
        self._auth = (unquote(parts.username or ""), unquote(parts.password or "")) if parts.username else None
        host = parts.hostname or "127.0.0.1"
        netloc = f"[{host}]" if ":" in host else host
        if parts.port:
            netloc += f":{parts.port}"
        # Credentials are kept apart from the URL so that they never reach a log line.
        self.url = urlunsplit((parts.scheme or "http", netloc, parts.path.rstrip("/"), "", ""))
        self.db = db
        self.timeout = timeout
        self.max_attempts = max_attempts
        self._client = client
        self._lock = threading.Lock()

    # -- HTTP ----------------------------------------------------------------

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = httpx.Client(
                        auth=self._auth,
                        timeout=self.timeout,
                        limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
                    )
        return self._client

    def _path(self, *parts: str) -> str:
        return "/".join([self.url, quote(self.db, safe=""), *parts])

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        allow: tuple[int, ...] = (),
    ) -> httpx.Response:
        content = None if body is None else _body(body)
        headers = {"Accept": "application/json"}
        if content is not None:
            headers["Content-Type"] = "application/json"
        try:
            response = self.client.request(method, path, params=params, content=content, headers=headers)
        except httpx.HTTPError as exc:
            raise BackendUnavailable(f"CouchDB is unreachable: {type(exc).__name__}") from exc
        status = response.status_code
        if status < 300:
            return response
        reason = self._reason(response)
        if status == 404 and reason in ("Database does not exist.", "no_db_file"):
            raise BackendUnavailable(f"CouchDB database {self.db!r} does not exist: run `agent-datastore admin create`")
        if status == 404 and "/_design/" in path and "/_view/" in path:
            raise BackendUnavailable("the CouchDB design document is missing: run `agent-datastore admin create`")
        if status in allow:
            return response
        if status == 429:
            raise Throttled("CouchDB is throttling requests")
        if status >= 500:
            raise BackendUnavailable(f"CouchDB answered {status}")
        if status in (401, 403):
            raise BackendUnavailable(f"CouchDB refused the configured credentials ({status})")
        if status == 413:
            raise ValueTooLarge("the document is larger than the CouchDB server accepts")
        raise InternalError(f"CouchDB answered {status} to {method}: {reason}")

    @staticmethod
    def _reason(response: httpx.Response) -> str:
        try:
            data = response.json()
        except ValueError:
            return response.text[:200]
        return str(data.get("reason") or data.get("error") or "") if isinstance(data, dict) else ""

    def _backoff(self, attempt: int) -> None:
        time.sleep(random.uniform(0, min(0.25, 0.004 * 2**attempt)))

    def _attempts(self, what: str) -> Iterator[int]:
        for attempt in range(self.max_attempts):
            if attempt:
                self._backoff(attempt)
            yield attempt
        raise BackendUnavailable(f"{what}: too much contention on one record, retry later")

    # -- documents -------------------------------------------------------------

    def _get_doc(self, doc_id: str) -> dict[str, Any] | None:
        response = self._request("GET", self._path(doc_id), allow=(404,))
        if response.status_code == 404:
            return None
        doc: dict[str, Any] = response.json()
        return doc

    def _put_doc(self, doc: dict[str, Any], rev: str | None) -> str:
        if rev is not None:
            doc = {**doc, "_rev": rev}
        response = self._request("PUT", self._path(doc["_id"]), body=doc, allow=(409,))
        if response.status_code == 409:
            raise Conflict(doc["_id"])
        return str(response.json()["rev"])

    def _delete_doc(self, doc_id: str, rev: str) -> None:
        # Always with the `_rev` read: CouchDB 3 answers 409 to a stale one (pouchdb-server 404).
        response = self._request("DELETE", self._path(doc_id), params={"rev": rev}, allow=(404, 409))
        if response.status_code != 200 and response.status_code != 202:
            raise Conflict(doc_id)

    def _docs(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        """Current documents of `ids` (absent and deleted ones left out)."""
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), DOC_PAGE):
            rows = self._request(
                "POST", self._path("_all_docs"), body={"keys": ids[start : start + DOC_PAGE], "include_docs": True}
            ).json()["rows"]
            for row in rows:
                if row.get("doc"):
                    found[row["id"]] = row["doc"]
        return found

    def _bulk(self, docs: list[dict[str, Any]], results: dict[str, str | None] | None = None) -> dict[str, str | None]:
        """Write documents with `_bulk_docs`; id -> new rev, or None when it lost a race.
        `results` fills as batches land, so a caller sees what was written before a failure."""
        results = {} if results is None else results
        batch: list[dict[str, Any]] = []
        size = 0

        def flush() -> None:
            if batch:
                answer = self._request("POST", self._path("_bulk_docs"), body={"docs": batch}).json()
                for item in answer:
                    results[item["id"]] = item.get("rev") if item.get("ok") or "error" not in item else None
                batch.clear()

        for doc in docs:
            cost = len(_body(doc))
            if batch and size + cost > BULK_BYTES:
                flush()
                size = 0
            batch.append(doc)
            size += cost
        flush()
        return results

    def _view(self, name: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self._request("POST", self._path(DESIGN_ID, "_view", name), body=body).json()[
            "rows"
        ]
        return rows

    def _range(self, start: str, end: str, *, limit: int, include_docs: bool = False) -> list[dict[str, Any]]:
        """`_all_docs` rows with start <= id < end, in id (byte) order."""
        body = {"startkey": start, "endkey": end, "inclusive_end": False, "limit": limit}
        if include_docs:
            body["include_docs"] = True
        rows: list[dict[str, Any]] = self._request("POST", self._path("_all_docs"), body=body).json()["rows"]
        return rows

    # -- admin -----------------------------------------------------------------

    def create(self) -> None:
        response = self._request("PUT", self._path(), allow=(412,))
        del response  # 412: the database exists already
        current = self._get_doc(DESIGN_ID)
        wanted = {"_id": DESIGN_ID, **DESIGN}
        if current is None or {name: current.get(name) for name in DESIGN} != DESIGN:
            self._put_doc(wanted, current["_rev"] if current else None)

    def drop(self) -> None:
        """Delete the whole database (test fixtures)."""
        self._request("DELETE", self._path(), allow=(404,))

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    # -- operations --------------------------------------------------------------

    @staticmethod
    def _live(doc: dict[str, Any] | None, now: int) -> Record | None:
        if doc is None:
            return None
        record = from_doc(doc)
        return record if record.is_live(now) else None

    def get(self, scope: Scope, key: str, *, reader: str | None, now: int) -> Record | None:
        doc_id = record_id(scope, key)
        for _ in self._attempts("get"):
            doc = self._get_doc(doc_id)
            record = self._live(doc, now)
            if record is None or reader is None or doc is None:
                return record
            record = apply_read(record, reader)
            try:
                self._put_doc(to_doc(record), doc["_rev"])
            except Conflict:
                continue
            return record
        raise AssertionError("unreachable")

    def _write(self, scope: Scope, key: str, make: Any, now: int, what: str) -> tuple[Record, bool]:
        """CAS loop: `make(existing_live_record)` returns the Write to apply."""
        doc_id = record_id(scope, key)
        for _ in self._attempts(what):
            doc = self._get_doc(doc_id)
            existing = self._live(doc, now)
            record = apply_write(scope, key, existing, make(existing), now)
            try:
                self._put_doc(to_doc(record), doc["_rev"] if doc else None)
            except Conflict:
                continue
            return record, existing is None
        raise AssertionError("unreachable")

    def put(self, scope: Scope, key: str, write: Write, now: int) -> tuple[Record, bool]:
        return self._write(scope, key, lambda _: write, now, "set")

    def increment(
        self, scope: Scope, key: str, by: int | float, *, agent: str, expires_at: int | None, now: int
    ) -> Record:
        def make(existing: Record | None) -> Write:
            return Write(increment_value(key, existing, by), agent, None, expires_at)

        return self._write(scope, key, make, now, "increment")[0]

    def delete(self, scope: Scope, key: str, *, if_version: int | None, now: int) -> bool:
        doc_id = record_id(scope, key)
        for _ in self._attempts("delete"):
            doc = self._get_doc(doc_id)
            existing = self._live(doc, now)
            check_version(key, existing, if_version)
            if doc is None:
                return False
            try:
                self._delete_doc(doc_id, doc["_rev"])  # an expired document goes too
            except Conflict:
                continue
            return existing is not None
        raise AssertionError("unreachable")

    def get_many(self, scope: Scope, keys: list[str], *, reader: str | None, now: int, max_bytes: int) -> ManyResult:
        result = ManyResult()
        budget = max_bytes
        ids = {key: record_id(scope, key) for key in keys}
        for start in range(0, len(keys), DOC_PAGE):
            chunk = keys[start : start + DOC_PAGE]
            docs = self._docs([ids[key] for key in chunk])
            taken: list[tuple[str, Record, dict[str, Any]]] = []
            stop = False
            for index, key in enumerate(chunk):
                doc = docs.get(ids[key])
                record = self._live(doc, now)
                if record is None or doc is None:
                    continue
                cost = response_cost(key, record)
                if cost > budget:
                    result.unprocessed.extend(keys[start + index :])
                    stop = True
                    break
                budget -= cost
                taken.append((key, record, doc))
            if reader is None:
                result.found.update((key, record) for key, record, _ in taken)
            else:
                self._track_reads(scope, taken, reader, now, result)
            if stop:
                break
        return result

    def _track_reads(
        self, scope: Scope, taken: list[tuple[str, Record, dict[str, Any]]], reader: str, now: int, result: ManyResult
    ) -> None:
        updates = {key: apply_read(record, reader) for key, record, _ in taken}
        revs = self._bulk([{**to_doc(updates[key]), "_rev": doc["_rev"]} for key, _, doc in taken])
        for key, _, _ in taken:
            if revs.get(record_id(scope, key)):
                result.found[key] = updates[key]
            else:  # lost a race: count this read on its own, exactly once
                record = self.get(scope, key, reader=reader, now=now)
                if record is not None:
                    result.found[key] = record

    def put_many(self, scope: Scope, items: list[tuple[str, Write]], now: int) -> dict[str, int]:
        docs = self._docs([record_id(scope, key) for key, _ in items])
        # Every new record is computed (and checked) before anything is written.
        planned: list[tuple[str, Write, Record, dict[str, Any] | None]] = []
        for key, write in items:
            doc = docs.get(record_id(scope, key))
            planned.append((key, write, apply_write(scope, key, self._live(doc, now), write, now), doc))
        revs: dict[str, str | None] = {}
        try:
            self._bulk(
                [{**to_doc(record), **({"_rev": doc["_rev"]} if doc else {})} for _, _, record, doc in planned], revs
            )
        except BackendUnavailable as exc:
            written = [key for key, _ in items if revs.get(record_id(scope, key))]
            if not written:
                raise
            raise BackendUnavailable(
                f"set_many stopped after {len(written)} of {len(items)} items: {exc.message}", {"written": written}
            ) from exc
        versions: dict[str, int] = {}
        for key, write, record, _ in planned:
            if revs.get(record_id(scope, key)):
                versions[key] = record.version
                continue
            try:  # lost a race with another writer: write this one through the CAS loop
                versions[key] = self.put(scope, key, write, now)[0].version
            except Exception as exc:
                raise BackendUnavailable(
                    f"set_many stopped after {len(versions)} of {len(items)} items",
                    {"written": list(versions)},
                ) from exc
        return {key: versions[key] for key, _ in items}

    # -- listing ---------------------------------------------------------------

    def _expired_ids(self, start: list[Any], now: int) -> dict[str, str]:
        """id -> rev of documents expired at `now`, from the expiry view range `start`."""
        rows = self._view("expiry", {"startkey": start, "endkey": [*start, now], "reduce": False})
        return {row["id"]: row["value"] for row in rows}

    def _sweep(self, expired: dict[str, str]) -> int:
        if not expired:
            return 0
        revs = self._bulk([{"_id": doc_id, "_rev": rev, "_deleted": True} for doc_id, rev in expired.items()])
        return sum(1 for rev in revs.values() if rev)

    def list_keys(self, scope: Scope, *, prefix: str, after: str | None, limit: int, now: int) -> list[str]:
        base = namespace_prefix(scope)
        start = base + _hex(prefix)
        end = start + "g"  # above every hex digit: the end of the prefix range
        if after is not None:
            start = max(start, base + _hex(after) + "00")  # the smallest key greater than `after`
        expired = self._expired_ids(["ns", _hex(scope.user_id), _hex(scope.namespace)], now)
        keys: list[str] = []
        while len(keys) < limit:
            want = min(PAGE, limit - len(keys) + len(expired))
            rows = self._range(start, end, limit=want)
            keys.extend(_unhex(row["id"][len(base) :]) for row in rows if row["id"] not in expired)
            if len(rows) < want:
                break
            start = rows[-1]["id"] + "00"
        self._try_sweep(expired)
        return keys[:limit]

    def _try_sweep(self, expired: dict[str, str]) -> None:
        with contextlib.suppress(BackendUnavailable):  # opportunistic: the sweeper gets it otherwise
            self._sweep(expired)

    def _registry(self, user_id: str, body: dict[str, Any], now: int) -> list[NamespaceStats]:
        self._sweep(self._expired_ids(["user", _hex(user_id)], now))
        rows = self._view("namespaces", {**body, "group_level": 2})
        stats = [
            NamespaceStats(_unhex(row["key"][1]), row["value"][0], row["value"][1], row["value"][2])
            for row in rows
            if row["value"][0] > 0
        ]
        return sorted(stats, key=lambda item: item.namespace.encode("utf-8"))

    def list_namespaces(self, user_id: str, *, prefix: str, now: int) -> list[str]:
        user, low = _hex(user_id), _hex(prefix)
        rows = self._registry(user_id, {"startkey": [user, low], "endkey": [user, low + "g"]}, now)
        return [row.namespace for row in rows]

    def stats(self, user_id: str, *, namespace: str | None, now: int) -> list[NamespaceStats]:
        user = _hex(user_id)
        if namespace is None:
            body: dict[str, Any] = {"startkey": [user], "endkey": [user, {}]}
        else:
            body = {"key": [user, _hex(namespace)]}
        return self._registry(user_id, body, now)

    def clear(self, scope: Scope, *, now: int, deadline: float) -> tuple[int, bool]:
        base = namespace_prefix(scope)
        deleted = 0
        while True:
            expired = self._expired_ids(["ns", _hex(scope.user_id), _hex(scope.namespace)], now)
            rows = self._range(base, base + "g", limit=PAGE)
            if not rows:
                return deleted, True
            revs = self._bulk([{"_id": row["id"], "_rev": row["value"]["rev"], "_deleted": True} for row in rows])
            deleted += sum(1 for doc_id, rev in revs.items() if rev and doc_id not in expired)
            if time.monotonic() >= deadline:
                return deleted, False

    # -- operator interface --------------------------------------------------------

    def users(self) -> Iterator[str]:
        rows = self._view("namespaces", {"group_level": 1})
        return iter([_unhex(row["key"][0]) for row in rows if row["value"][0] > 0])

    def scan(self, user_id: str, namespace: str | None = None) -> Iterator[Record]:
        start = f"r-{_hex(user_id)}-" + (f"{_hex(namespace)}-" if namespace is not None else "")
        end = start + "g"
        while True:
            rows = self._range(start, end, limit=DOC_PAGE, include_docs=True)
            for row in rows:
                if row.get("doc"):
                    yield from_doc(row["doc"])
            if len(rows) < DOC_PAGE:
                return
            start = rows[-1]["id"] + "0"

    def restore(self, record: Record) -> None:
        doc_id = record_id(Scope(record.user_id, record.namespace), record.key)
        for _ in self._attempts("restore"):
            doc = self._get_doc(doc_id)
            if doc is not None and from_doc(doc) == record:
                return  # already there: re-running changes nothing
            try:
                self._put_doc(to_doc(record), doc["_rev"] if doc else None)
            except Conflict:
                continue
            return

    def purge_expired(self, now: int, user_id: str | None = None) -> int:
        start = ["all"] if user_id is None else ["user", _hex(user_id)]
        return self._sweep(self._expired_ids(start, now))


def from_settings(settings: Settings) -> CouchDBStore:
    return CouchDBStore(settings.couchdb_url, settings.couchdb_db)
