"""The CouchDB backend through a proxy that injects 503s and connection resets (tests/couchdb/faults.py)
in front of the real pouchdb-server: transient faults are retried, and no write is lost or applied twice."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from agent_datastore.api.app import Api
from agent_datastore.api.service import DataStoreService, parse_request
from agent_datastore.core.errors import DataStoreError, InternalError
from agent_datastore.core.identity import Identity
from agent_datastore.core.settings import Settings
from agent_datastore.edges.aws.handler import make_handler
from agent_datastore.stores.couchdb.store import CouchDBStore
from tests.support.server import ROOT

from .faults import BACKEND_DETAIL, KINDS, faulty

ME = Identity("fault-user", "fault-agent")


def service(url: str, database: str) -> DataStoreService:
    return DataStoreService(CouchDBStore(url, database), Settings(auth="none"))


def call(ds: DataStoreService, operation: str, **body: object) -> dict:
    return ds.execute(operation, parse_request(operation, body), ME, time.monotonic() + 60)


def test_a_100_item_set_many_survives_a_30_percent_fault_rate(couchdb: str, database: str) -> None:
    clean = service(couchdb, database)
    with faulty(couchdb, rate=0.3, seed=7) as proxy:
        ds = service(proxy.url, database)
        for run in range(25):
            items = {f"k{i:03d}": {"run": run, "i": i, "text": "é" * (i % 7)} for i in range(100)}
            answer = call(ds, "set_many", namespace=f"run-{run}", items=items)
            assert answer == {"written": 100, "versions": dict.fromkeys(items, 1)}, run
            again = call(ds, "set_many", namespace=f"run-{run}", items={key: [value] for key, value in items.items()})
            assert again["versions"] == dict.fromkeys(items, 2), run
            # Exactly what was written, read without the proxy.
            read = call(clean, "get_many", namespace=f"run-{run}", keys=list(items), track_access=False)
            assert read == {"values": {key: [value] for key, value in items.items()}, "missing": [], "unprocessed": []}
    assert sum(proxy.faults.values()) > 0.25 * proxy.requests > 100  # the rate really was ~30%
    assert all(proxy.faults[kind] > 20 for kind in KINDS), proxy.faults


def test_counts_stay_exact_when_answers_are_lost(couchdb: str, database: str) -> None:
    """A write whose answer was lost did happen: retried, it must not happen twice."""
    clean = service(couchdb, database)
    with faulty(couchdb, rate=0.3, seed=11, kinds=("lost-503", "lost-reset", "503", "reset")) as proxy:
        ds = service(proxy.url, database)
        for n in range(1, 41):
            assert call(ds, "increment", key="counter") == {"value": n, "version": n}
        for _ in range(30):
            assert call(ds, "get", key="counter")["found"] is True
        record = call(clean, "get", key="counter", include_record=True, track_access=False)["record"]
        assert (record["value"], record["version"], record["accessCount"]) == (40, 40, 30)
        # Created exactly once, deleted exactly once, conditional writes answered truthfully.
        for n in range(10):
            assert call(ds, "set", key=f"once-{n}", value=n, if_version=0) == {"version": 1, "created": True}
            assert call(ds, "delete", key=f"once-{n}", if_version=1) == {"deleted": True}
            assert call(ds, "delete", key=f"once-{n}") == {"deleted": False}
    assert proxy.faults["lost-503"] + proxy.faults["lost-reset"] > 20, proxy.faults


def test_concurrent_increments_stay_exact_under_faults(couchdb: str, database: str) -> None:
    clean = service(couchdb, database)
    with faulty(couchdb, rate=0.3, seed=5) as proxy:
        ds = service(proxy.url, database)

        def bump(_: int) -> int:
            return int(call(ds, "increment", key="shared")["value"])

        with ThreadPoolExecutor(4) as pool:
            values = list(pool.map(bump, range(60)))
    assert sorted(values) == list(range(1, 61))  # each increment seen once, none twice
    record = call(clean, "get", key="shared", include_record=True, track_access=False)["record"]
    assert (record["value"], record["version"]) == (60, 60)


@pytest.mark.parametrize("fault", KINDS)
def test_admin_create_survives_one_fault(couchdb: str, fault: str) -> None:
    name = f"create_{uuid.uuid4().hex[:12]}"
    with faulty(couchdb, script=[fault]) as proxy:
        env = {**os.environ, "STORE_BACKEND": "couchdb", "COUCHDB_URL": proxy.url, "COUCHDB_DB": name}
        result = subprocess.run(
            [sys.executable, "-m", "agent_datastore.cli", "admin", "create", "--json"],
            capture_output=True, text=True, env=env, cwd=ROOT, timeout=60,
        )  # fmt: skip
        assert proxy.faults == {fault: 1}
    try:
        assert result.returncode == 0, result.stderr[-3000:]
        assert json.loads(result.stdout) == {"created": True, "backend": "couchdb"}
        assert httpx.get(f"{couchdb}/{name}/_design/agent_datastore").status_code == 200
    finally:
        httpx.delete(f"{couchdb}/{name}")


def admin_create(url: str, name: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "STORE_BACKEND": "couchdb", "COUCHDB_URL": url, "COUCHDB_DB": name}
    command = [sys.executable, "-m", "agent_datastore.cli", "admin", "create", "--json"]
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=90)


def test_admin_create_waits_for_a_server_that_is_still_starting(couchdb: str) -> None:
    name = f"create_{uuid.uuid4().hex[:12]}"
    with faulty(couchdb, down_for=4.0) as proxy:
        started = time.monotonic()
        result = admin_create(proxy.url, name)
        waited = time.monotonic() - started
    try:
        assert result.returncode == 0, result.stderr[-3000:]
        assert waited >= 4.0 and proxy.faults["reset"] >= 3
        assert httpx.get(f"{couchdb}/{name}/_design/agent_datastore").status_code == 200
    finally:
        httpx.delete(f"{couchdb}/{name}")


def test_admin_create_reports_a_refusal_without_a_traceback(couchdb: str) -> None:
    with faulty(couchdb, script=["status:400"]) as proxy:
        result = admin_create(proxy.url, f"create_{uuid.uuid4().hex[:12]}")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "error: couchdb: the storage backend rejected the request" in result.stderr
    assert BACKEND_DETAIL in result.stderr  # the operator sees CouchDB's reason in the log line


@pytest.mark.parametrize("status", [400, 405, 409, 412, 415, 417])
def test_an_unexpected_answer_is_internal_and_its_detail_only_logged(
    couchdb: str, database: str, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    with faulty(couchdb, script=[f"status:{status}"]) as proxy:
        store = CouchDBStore(proxy.url, database)
        with caplog.at_level(logging.WARNING), pytest.raises(DataStoreError) as raised:
            store.get(_scope(), "k", reader=None, now=0)
        assert isinstance(raised.value, InternalError)
        assert BACKEND_DETAIL not in raised.value.message and str(status) not in raised.value.message
        assert "CouchDB" not in raised.value.message
        assert BACKEND_DETAIL in caplog.text and str(status) in caplog.text
    # Through a handler: the contract's 500, nothing of the backend's text in it.
    with faulty(couchdb, script=[f"status:{status}"]) as proxy:
        api = Api(Settings(auth="none"), CouchDBStore(proxy.url, database))
        result = make_handler("get", api)({"identity": {"userId": "u"}, "key": "k"}, None)
        assert result["statusCode"] == 500
        text = json.dumps(result["body"])
        assert result["body"]["error"]["code"] == "internal"
        assert (
            BACKEND_DETAIL not in text and "CouchDB" not in text and f"{status}" not in text.replace("request_id", "")
        )


def _scope():
    from agent_datastore.core.records import Scope

    return Scope("fault-user", "default")


def test_an_outage_longer_than_the_retries_is_503(couchdb: str, database: str) -> None:
    with faulty(couchdb, rate=1.0, kinds=("503",)) as proxy:
        ds = service(proxy.url, database)
        started = time.monotonic()
        with pytest.raises(DataStoreError) as raised:
            call(ds, "get", key="k")
        assert raised.value.status == 503 and raised.value.code == "backend_unavailable"
        assert time.monotonic() - started < 10  # bounded: a few attempts inside the request budget
        assert 2 <= proxy.requests <= 10
