"""CouchDB's HTTP API for one database: requests, retries, error translation, document,
`_all_docs` and view reads, `_bulk_docs` writes.

Every answer is translated here into a domain error (or `Conflict`, a `_rev`
that lost a race), so the store above never sees an httpx type.

Transient faults (a connection refused or reset, a timeout, an answer 408, 429
or 5xx) are retried with jittered backoff (`retry.backoff`), at most
`Retry.attempts` times and `Retry.seconds` seconds per request, well inside a
request's budget; then the request fails with 503 `backend_unavailable` (429:
`throttled`). Reads are idempotent. Every write is guarded, by the `_rev` it was
read at or, for a new document, by the document's absence, so a write sent
twice is applied at most once: when the answer to an attempt that may have
reached CouchDB is lost, the next attempt meets a 409. Each write therefore
carries a random `write_id`, and such a 409 is settled by reading the
document's revision history (`_landed`): if the revision that followed the one
written over carries this write's id, the write was applied and is not applied
again; otherwise another writer won the race, which the write loop handles as
any lost race.
"""

from __future__ import annotations

import copy
import itertools
import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import httpx

from agent_datastore.core.errors import BackendUnavailable, DataStoreError, InternalError, Throttled, ValueTooLarge
from agent_datastore.stores.retry import backoff
from agent_datastore.stores.writeloop import LostRace

logger = logging.getLogger("agent_datastore.couchdb")

DOC_PAGE = 8  # whole documents per request when their sizes are not known (values reach 1 MiB)
PAGE_BYTES = 1024 * 1024  # documents of known size per `_all_docs` read: their estimated bytes
DOC_OVERHEAD = 1024  # bytes of a document beyond its record's `size` (id, fields, escapes), for estimates
BULK_BYTES = 1024 * 1024  # body of one _bulk_docs write (a larger document alone): bounds the memory it takes
WRITE_ID = "write_id"  # the random id of the write that made a revision (see the module's docstring)
RETRIED_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)  # never reached CouchDB


@dataclass(frozen=True)
class Retry:
    """How long one request is tried through transient faults: up to `attempts` times, not
    beyond `seconds`, sleeping up to `base * 2**n` (at most `cap`) seconds after the n-th fault."""

    attempts: int = 8
    seconds: float = 5.0
    base: float = 0.02
    cap: float = 0.5


# Operator commands (`admin create`, so `make serve` right after CouchDB was started) wait longer.
PATIENT = Retry(attempts=40, seconds=30.0, base=0.05, cap=2.0)


def _body(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _what(path: str) -> str:
    """What a request addressed, for the logs (a document id spells out user, namespace and key)."""
    for marker in ("/_all_docs", "/_bulk_docs", "/_view/"):
        if marker in path:
            return marker.strip("/") + (" " + path.rsplit("/", 1)[1] if marker == "/_view/" else "")
    return "a document" if path.count("/") > 3 else "the database"


def _generation(rev: str | None) -> int:
    return int(rev.split("-", 1)[0]) if rev else 0


def _estimate(size: int) -> int:
    """Bytes a record document of `size` (the record's stored bytes) takes in an answer, about."""
    return size + DOC_OVERHEAD


def _pages(ids: list[str], sizes: Mapping[str, int] | None) -> Iterator[list[str]]:
    """`ids` cut into pages of at most `PAGE_BYTES` by `sizes` (an id of unknown size: the largest
    possible, 1 / `DOC_PAGE` of a page), each holding at least one id."""
    page: list[str] = []
    filled = 0
    for doc_id in ids:
        size = _estimate(sizes[doc_id]) if sizes is not None and doc_id in sizes else PAGE_BYTES // DOC_PAGE
        if page and filled + size > PAGE_BYTES:
            yield page
            page, filled = [], 0
        page.append(doc_id)
        filled += size
    if page:
        yield page


class Conflict(LostRace):
    """A `_rev` lost a race (409); the write loop reads the document again."""

    def __init__(self, doc_id: str) -> None:
        super().__init__()
        self.doc_id = doc_id


class DesignMissing(BackendUnavailable):
    """A view's design document is not in the database (one made before the view existed)."""


class CouchDBHttp:
    """One database of one server; the httpx client is created on first use (or injected)."""

    def __init__(
        self,
        url: str,
        db: str,
        *,
        client: httpx.Client | None = None,
        timeout: float = 30.0,
        retry: Retry = Retry(),
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
        self.retry = retry
        self._client = client
        self._lock = threading.Lock()

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

    def patient(self) -> CouchDBHttp:
        """This database with the `PATIENT` retry, on the same client."""
        other = copy.copy(self)
        other.retry = PATIENT
        return other

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def _path(self, *parts: str) -> str:
        return "/".join([self.url, quote(self.db, safe=""), *parts])

    def _send(
        self, method: str, path: str, *, params: dict[str, Any] | None = None, body: Any = None
    ) -> tuple[httpx.Response, bool]:
        """CouchDB's answer, tried again through transient faults (see `Retry`); and whether an
        attempt before it failed after it may have reached CouchDB (a write may have been applied)."""
        content = None if body is None else _body(body)
        headers = {"Accept": "application/json"}
        if content is not None:
            headers["Content-Type"] = "application/json"
        started = time.monotonic()
        uncertain = False
        for attempt in itertools.count(1):
            failure: DataStoreError
            try:
                response = self.client.request(method, path, params=params, content=content, headers=headers)
            except httpx.HTTPError as exc:
                failure = BackendUnavailable(f"CouchDB is unreachable: {type(exc).__name__}")
                uncertain = uncertain or not isinstance(exc, NOT_SENT)
                fault = type(exc).__name__
            else:
                # httpx links a response and its (read, closed) stream both ways: a cycle that waits
                # for the garbage collector, holding the answer's bytes and the request's body. Cut
                # it, so that a page of documents is freed as soon as it has been read.
                response.stream = httpx.ByteStream(b"")
                if response.status_code not in RETRIED_STATUSES:
                    return response, uncertain
                if response.status_code == 429:
                    failure = Throttled("CouchDB is throttling requests")
                else:
                    failure = BackendUnavailable("CouchDB is unavailable; retry shortly")
                    uncertain = True
                fault = f"status {response.status_code}"
            if attempt >= self.retry.attempts or time.monotonic() - started >= self.retry.seconds:
                logger.warning("CouchDB %s of %s failed %d times, last: %s", method, _what(path), attempt, fault)
                raise failure
            logger.info("CouchDB %s of %s failed (%s); trying again", method, _what(path), fault)
            backoff(attempt, self.retry.base, self.retry.cap)
        raise AssertionError("unreachable")

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        allow: tuple[int, ...] = (),
    ) -> httpx.Response:
        response, _ = self._send(method, path, params=params, body=body)
        return self._checked(method, path, response, allow)

    def _checked(self, method: str, path: str, response: httpx.Response, allow: tuple[int, ...]) -> httpx.Response:
        """`response` if it is a success or one of the statuses `allow`ed, else its domain error.
        An answer this code does not expect is our fault, not the caller's: 500 `internal`,
        with CouchDB's words in the log only."""
        status = response.status_code
        if status < 300:
            return response
        reason = self._reason(response)
        if status == 404 and reason in ("Database does not exist.", "no_db_file"):
            raise BackendUnavailable(f"CouchDB database {self.db!r} does not exist: run `agent-datastore admin create`")
        if status == 404 and "/_design/" in path and "/_view/" in path:
            raise DesignMissing("the CouchDB design document is missing: run `agent-datastore admin create`")
        if status in allow:
            return response
        if status in (401, 403):
            raise BackendUnavailable(f"CouchDB refused the configured credentials ({status})")
        if status == 413:
            raise ValueTooLarge("the document is larger than the CouchDB server accepts")
        logger.error("CouchDB answered %d to %s of %s: %s", status, method, _what(path), reason)
        raise InternalError("the storage backend rejected the request")

    @staticmethod
    def _reason(response: httpx.Response) -> str:
        try:
            data = response.json()
        except ValueError:
            return response.text[:200]
        return str(data.get("reason") or data.get("error") or "") if isinstance(data, dict) else ""

    @staticmethod
    def _json(response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            logger.error("CouchDB answered %d with a body that is not JSON", response.status_code)
            raise BackendUnavailable("CouchDB sent an answer that could not be read") from None

    def _rows(self, response: httpx.Response) -> list[dict[str, Any]]:
        data = self._json(response)
        rows = data.get("rows") if isinstance(data, dict) else None
        if not isinstance(rows, list):
            logger.error("CouchDB answered a listing without rows")
            raise BackendUnavailable("CouchDB sent an answer that could not be read")
        return rows

    def _landed(self, doc_id: str, base_rev: str | None, write_id: str) -> str | None:
        """After a 409 to a write sent again: the revision the write made if an earlier attempt
        was applied, else None (another writer won the race). The document as it stands is read
        first (usually it is that revision); else the revision that followed `base_rev` (the
        first one, for a new document) is read and its `write_id` compared. If CouchDB no longer
        holds that revision (compacted), nobody can tell: 503."""
        path = self._path(doc_id)
        answer = self._request("GET", path, params={"revs": "true"}, allow=(404,))
        if answer.status_code == 404:  # deleted (perhaps by this very write): read its last revision
            rows = self._rows(self._request("POST", self._path("_all_docs"), body={"keys": [doc_id]}))
            leaf = (rows[0].get("value") or {}).get("rev") if rows else None
            if not isinstance(leaf, str):
                return None  # no such document at all: nothing was applied
            answer = self._request("GET", path, params={"rev": leaf, "revs": "true"})
        current = self._json(answer)
        if current.get(WRITE_ID) == write_id:
            return str(current["_rev"])
        generation = _generation(base_rev) + 1
        history = current.get("_revisions") or {}
        start, ids = history.get("start", 0), history.get("ids", [])
        index = start - generation
        if index < 0:
            return None  # the document never got this far: the write was not applied
        if index + (1 if base_rev else 0) >= len(ids):
            raise self._unsure()  # the history CouchDB keeps is shorter than that
        if base_rev is not None and f"{generation - 1}-{ids[index + 1]}" != base_rev:
            return None  # the write's base is not in the document's history
        child = f"{generation}-{ids[index]}"
        answer = self._request("GET", path, params={"rev": child}, allow=(404,))
        if answer.status_code == 404:
            raise self._unsure()
        return child if self._json(answer).get(WRITE_ID) == write_id else None

    def _landed_in_bulk(self, sent: dict[str, dict[str, Any]], ids: list[str]) -> dict[str, str | None]:
        """`_landed` for the documents `ids` of a `_bulk_docs` sent again (`sent`: id -> document):
        current documents are read a page at a time; only those that moved on are looked at alone.
        A deletion found deleted counts as applied (it was this one, or a concurrent deletion of
        the same record: either way the record is gone, which is all a sweep or `clear` needs)."""
        settled: dict[str, str | None] = {}
        deletions = [doc_id for doc_id in ids if sent[doc_id].get("_deleted")]
        if deletions:
            rows = self._rows(self._request("POST", self._path("_all_docs"), body={"keys": deletions}))
            for row in rows:
                value = row.get("value") or {}
                settled[str(row.get("key"))] = value.get("rev") if value.get("deleted") else None
        writes = [doc_id for doc_id in ids if doc_id not in settled]
        current = self.docs(writes)
        for doc_id in writes:
            doc = current.get(doc_id)
            if doc is not None and doc.get(WRITE_ID) == sent[doc_id][WRITE_ID]:
                settled[doc_id] = str(doc["_rev"])
            else:
                settled[doc_id] = self._landed(doc_id, sent[doc_id].get("_rev"), sent[doc_id][WRITE_ID])
        return settled

    @staticmethod
    def _unsure() -> BackendUnavailable:
        logger.warning("CouchDB lost the answer to a write and no longer shows whether it was applied")
        return BackendUnavailable("the answer to a write was lost and it cannot be told whether it was applied")

    # -- the database ------------------------------------------------------------

    def create_database(self) -> None:
        self._request("PUT", self._path(), allow=(412,))  # 412: the database exists already

    def drop_database(self) -> None:
        self._request("DELETE", self._path(), allow=(404,))

    # -- documents -----------------------------------------------------------------

    def get_doc(self, doc_id: str) -> dict[str, Any] | None:
        response = self._request("GET", self._path(doc_id), allow=(404,))
        if response.status_code == 404:
            return None
        doc: dict[str, Any] = self._json(response)
        return doc

    def put_doc(self, doc: dict[str, Any], rev: str | None) -> str:
        """Write `doc` over revision `rev` (None: create it); its new `_rev`, or Conflict."""
        sent = {**doc, WRITE_ID: uuid.uuid4().hex, **({"_rev": rev} if rev is not None else {})}
        path = self._path(doc["_id"])
        response, uncertain = self._send("PUT", path, body=sent)
        response = self._checked("PUT", path, response, allow=(409,))
        if response.status_code == 409:
            landed = self._landed(doc["_id"], rev, sent[WRITE_ID]) if uncertain else None
            if landed is None:
                raise Conflict(doc["_id"])
            return landed
        return str(self._json(response)["rev"])

    def delete_doc(self, doc_id: str, rev: str) -> None:
        # A PUT of a deleted revision rather than DELETE: it carries a write_id like any write, and
        # CouchDB 3 and pouchdb-server both answer a stale `_rev` with 409.
        self.put_doc({"_id": doc_id, "_deleted": True}, rev)

    def docs(self, ids: list[str], sizes: Mapping[str, int] | None = None) -> dict[str, dict[str, Any]]:
        """Current documents of `ids` (absent and deleted ones left out), a page a request: with
        `sizes` (id -> the record's `size`), up to `PAGE_BYTES` of documents by estimate (a larger
        one alone), else `DOC_PAGE` documents."""
        found: dict[str, dict[str, Any]] = {}
        for page in _pages(ids, sizes):
            body = {"keys": page, "include_docs": True}
            for row in self._rows(self._request("POST", self._path("_all_docs"), body=body)):
                if row.get("doc"):
                    found[row["id"]] = row["doc"]
        return found

    def bulk(self, docs: list[dict[str, Any]], results: dict[str, str | None] | None = None) -> dict[str, str | None]:
        """Write documents with `_bulk_docs`; id -> new rev, or None when it lost a race.
        `results` fills as batches land, so a caller sees what was written before a failure."""
        results = {} if results is None else results
        batch: list[dict[str, Any]] = []
        size = 0

        def flush() -> None:
            if not batch:
                return
            sent = {doc["_id"]: {**doc, WRITE_ID: uuid.uuid4().hex} for doc in batch}
            path = self._path("_bulk_docs")
            response, uncertain = self._send("POST", path, body={"docs": list(sent.values())})
            answer = self._json(self._checked("POST", path, response, ()))
            unsure: list[str] = []
            for item in answer:
                doc_id = item["id"]
                if item.get("ok") or "error" not in item:
                    results[doc_id] = item.get("rev")
                elif uncertain and item.get("error") == "conflict":  # perhaps applied by an earlier attempt
                    unsure.append(doc_id)
                else:
                    results[doc_id] = None
            if unsure:
                results.update(self._landed_in_bulk(sent, unsure))
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

    # -- ranges and views ------------------------------------------------------------

    def range(self, start: str, end: str, *, limit: int, include_docs: bool = False) -> list[dict[str, Any]]:
        """`_all_docs` rows with start <= id < end, in id (byte) order."""
        body = {"startkey": start, "endkey": end, "inclusive_end": False, "limit": limit}
        if include_docs:
            body["include_docs"] = True
        return self._rows(self._request("POST", self._path("_all_docs"), body=body))

    def view(self, design_id: str, name: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        return self._rows(self._request("POST", self._path(design_id, "_view", name), body=body))
