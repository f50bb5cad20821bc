"""Cloud Functions logs are JSON lines Cloud Logging reads as structured entries: severity, message,
the request id and the trace of the request being served, and none of the request's values."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from agent_datastore.edges.gcp import REQUEST_LOG, CloudLoggingFormatter, trace_fields
from tests.servers import free_port, wait_http

ROOT = Path(__file__).resolve().parents[2]
TRACE = "105445aa7843bc8bf206b12000100000"


def test_a_failing_function_logs_one_structured_entry_with_its_trace(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")  # the store cannot make its folder here: every request fails inside
    port = free_port()
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith(("STORE_", "DATASTORE_", "LOG_"))},
        "STORE_BACKEND": "sqlite",
        "SQLITE_PATH": str(blocker / "store.sqlite3"),
        "DATASTORE_AUTH": "none",
        "GOOGLE_CLOUD_PROJECT": "my-project",
    }
    log = tmp_path / "function.log"
    command = [
        str(Path(sys.executable).parent / "functions-framework"),
        *("--source", str(ROOT / "functions/gcp/main.py"), "--target", "get", "--port", str(port)),
    ]
    with log.open("wb") as handle:
        process = subprocess.Popen(command, stdout=handle, stderr=handle, env=env, cwd=tmp_path)
    try:
        wait_http(f"http://127.0.0.1:{port}/", process, log)
        answer = httpx.post(
            f"http://127.0.0.1:{port}/",
            json={"key": "secret-key-name"},
            headers={"X-Cloud-Trace-Context": f"{TRACE}/17;o=1"},
            timeout=30,
        )
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
    assert answer.status_code == 500
    entries = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    assert len(entries) == 1, log.read_text()
    (entry,) = entries
    assert entry["severity"] == "ERROR"
    assert entry["message"].startswith("operation get failed unexpectedly\nTraceback")
    assert entry["logging.googleapis.com/labels"] == {"request_id": answer.headers["x-request-id"]}
    assert entry["logging.googleapis.com/trace"] == f"projects/my-project/traces/{TRACE}"
    assert entry["logging.googleapis.com/spanId"] == f"{17:016x}"
    assert entry["logging.googleapis.com/trace_sampled"] is True
    assert "secret-key-name" not in log.read_text()


def test_trace_fields_from_either_header() -> None:
    w3c = {"traceparent": f"00-{TRACE}-b7ad6b7169203331-00"}
    assert trace_fields(w3c, "p") == {
        "logging.googleapis.com/trace": f"projects/p/traces/{TRACE}",
        "logging.googleapis.com/spanId": "b7ad6b7169203331",
        "logging.googleapis.com/trace_sampled": False,
    }
    both = {**w3c, "x-cloud-trace-context": "A" * 32}  # Google's own header wins; no span given
    assert trace_fields(both, "p") == {
        "logging.googleapis.com/trace": f"projects/p/traces/{'a' * 32}",
        "logging.googleapis.com/trace_sampled": False,
    }
    for bad in ({"x-cloud-trace-context": "not-a-trace"}, {"traceparent": "00-xyz"}, {}):
        assert trace_fields(bad, "p") == {}
    assert trace_fields(w3c, None) == {}  # no project: Cloud Logging could not link it


def test_a_line_outside_a_request_carries_no_request_fields() -> None:
    record = logging.LogRecord("agent_datastore.x", logging.WARNING, __file__, 1, "store %s slow", ("sqlite",), None)
    assert json.loads(CloudLoggingFormatter().format(record)) == {
        "severity": "WARNING",
        "message": "store sqlite slow",
        "logger": "agent_datastore.x",
    }
    token = REQUEST_LOG.set({"logging.googleapis.com/labels": {"request_id": "r1"}})
    try:
        assert json.loads(CloudLoggingFormatter().format(record))["logging.googleapis.com/labels"] == {
            "request_id": "r1"
        }
    finally:
        REQUEST_LOG.reset(token)
