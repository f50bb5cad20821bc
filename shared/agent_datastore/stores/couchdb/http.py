"""CouchDB's HTTP API for one database: requests, error translation, document,
`_all_docs` and view reads, `_bulk_docs` writes.

Every answer is translated here into a domain error (or `Conflict`, a `_rev`
that lost a race), so the store above never sees an httpx type.
"""

from __future__ import annotations

import json
import threading
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import httpx

from agent_datastore.core.errors import BackendUnavailable, InternalError, Throttled, ValueTooLarge
from agent_datastore.stores.writeloop import LostRace

DOC_PAGE = 8  # whole documents per request (values reach 1 MiB)
BULK_BYTES = 4 * 1024 * 1024  # body size of one _bulk_docs write


def _body(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class Conflict(LostRace):
    """A `_rev` lost a race (409); the write loop reads the document again."""

    def __init__(self, doc_id: str) -> None:
        super().__init__()
        self.doc_id = doc_id


class CouchDBHttp:
    """One database of one server; the httpx client is created on first use (or injected)."""

    def __init__(self, url: str, db: str, *, client: httpx.Client | None = None, timeout: float = 30.0) -> None:
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

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

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
        doc: dict[str, Any] = response.json()
        return doc

    def put_doc(self, doc: dict[str, Any], rev: str | None) -> str:
        if rev is not None:
            doc = {**doc, "_rev": rev}
        response = self._request("PUT", self._path(doc["_id"]), body=doc, allow=(409,))
        if response.status_code == 409:
            raise Conflict(doc["_id"])
        return str(response.json()["rev"])

    def delete_doc(self, doc_id: str, rev: str) -> None:
        # Always with the `_rev` read: CouchDB 3 answers 409 to a stale one (pouchdb-server 404).
        response = self._request("DELETE", self._path(doc_id), params={"rev": rev}, allow=(404, 409))
        if response.status_code != 200 and response.status_code != 202:
            raise Conflict(doc_id)

    def docs(self, ids: list[str]) -> dict[str, dict[str, Any]]:
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

    def bulk(self, docs: list[dict[str, Any]], results: dict[str, str | None] | None = None) -> dict[str, str | None]:
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

    # -- ranges and views ------------------------------------------------------------

    def range(self, start: str, end: str, *, limit: int, include_docs: bool = False) -> list[dict[str, Any]]:
        """`_all_docs` rows with start <= id < end, in id (byte) order."""
        body = {"startkey": start, "endkey": end, "inclusive_end": False, "limit": limit}
        if include_docs:
            body["include_docs"] = True
        rows: list[dict[str, Any]] = self._request("POST", self._path("_all_docs"), body=body).json()["rows"]
        return rows

    def view(self, design_id: str, name: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self._request("POST", self._path(design_id, "_view", name), body=body).json()[
            "rows"
        ]
        return rows
