"""The Cloud Functions source as infra/gcp/package.sh stages it, served as Cloud Functions serves it.

A fresh Python 3.12 venv (the python312 runtime) gets the bundle's requirements.txt and nothing
else, as Cloud Build does; the real `functions-framework` command then serves the bundle's main.py
on 127.0.0.1, on the Firestore emulator. A module the bundle needs but does not carry or require
fails the server's start or a request here.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.aws.test_handlers import EVENTS, ORDER
from tests.gcp.conftest import need_emulator

from .cfn import ROOT
from .samples import check_sample_results
from .tools import python312

PACKAGE = ROOT / "shared" / "agent_datastore"


# The first test installs the bundle's requirements from PyPI: longer than the suite's 300 s default allows under load.
pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    need_emulator()
    python = python312()
    work = tmp_path_factory.mktemp("gcp-bundle")
    subprocess.run([str(ROOT / "infra" / "gcp" / "package.sh"), str(work / "source")], check=True, timeout=60)
    subprocess.run([python, "-m", "venv", str(work / "venv")], check=True, timeout=120)
    pip = [str(work / "venv" / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "-r", str(work / "source" / "requirements.txt")], check=True, timeout=900)
    return {"source": work / "source", "venv": work / "venv"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def serve(bundle: dict[str, Path], tmp_path: Path) -> Iterator[Any]:
    """Start `functions-framework --target=TARGET` on the bundle; yields a function making them."""
    started: list[subprocess.Popen[bytes]] = []
    collection = f"bundle_{uuid.uuid4().hex[:8]}"

    def start(target: str) -> str:
        port = _free_port()
        env = {
            "PATH": f"{bundle['venv'] / 'bin'}:/usr/bin:/bin",
            "HOME": str(tmp_path),
            "LANG": "C.UTF-8",
            # What infra/gcp/functions.tf sets (the database: the emulator's default one).
            "STORE_BACKEND": "firestore",
            "GOOGLE_CLOUD_PROJECT": os.environ.get("GOOGLE_CLOUD_PROJECT", "agent-datastore-test"),
            "FIRESTORE_EMULATOR_HOST": os.environ["FIRESTORE_EMULATOR_HOST"],
            "FIRESTORE_COLLECTION": collection,
            "DATASTORE_AUTH": "gateway",
            "DATASTORE_DIRECT_CALLERS": "",
            # infra/gcp/cursor.tf's secret, as the list_keys functions get it (a secret env var).
            "DATASTORE_CURSOR_SECRET": "bundle-test-cursor-key-0123456789abcdef",
            "DATASTORE_REQUEST_BUDGET": "50",
            "LOG_LEVEL": "INFO",
        }
        log = (tmp_path / f"{target}.log").open("wb")
        command = [str(bundle["venv"] / "bin" / "functions-framework"), f"--target={target}", "--source=main.py"]
        process = subprocess.Popen(
            [*command, "--host=127.0.0.1", f"--port={port}"],
            cwd=bundle["source"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started.append(process)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"functions-framework --target={target} exited:\n{_log(tmp_path, target)}")
            try:
                httpx.get(url, timeout=2)
                return url
            except httpx.TransportError:
                time.sleep(0.2)
        raise AssertionError(f"functions-framework --target={target} did not answer:\n{_log(tmp_path, target)}")

    yield start
    for process in started:
        process.terminate()
        process.wait(timeout=30)


def _log(folder: Path, target: str) -> str:
    return (folder / f"{target}.log").read_text(errors="replace")[-5000:]


def headers(user: str) -> dict[str, str]:
    """What API Gateway adds once it has verified the caller's JWT (the claims, base64url)."""
    claims = base64.urlsafe_b64encode(json.dumps({"sub": user}).encode()).decode().rstrip("=")
    return {"X-Apigateway-Api-Userinfo": claims, "X-Agent-Name": "indexer", "content-type": "application/json"}


def post(url: str, **kwargs: Any) -> httpx.Response:
    return httpx.post(url, timeout=60, **kwargs)


def sample_body(operation: str) -> str:
    return str(json.loads((EVENTS / "http" / f"{operation}.json").read_text())["body"])


def test_the_staged_bundle_holds_main_requirements_and_the_whole_package(bundle):
    source = bundle["source"]
    assert sorted(path.name for path in source.iterdir()) == ["agent_datastore", "main.py", "requirements.txt"]
    expected = {str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    staged = {str(p.relative_to(source / "agent_datastore")) for p in (source / "agent_datastore").rglob("*")}
    assert {path for path in staged if not (source / "agent_datastore" / path).is_dir()} == expected


def test_every_operation_through_the_real_functions_framework(serve, user_id):
    route = serve("route")
    out = {}
    for operation in ORDER:
        # The first call opens the Firestore channel: seconds on a loaded machine.
        response = post(f"{route}/v1/{operation}", content=sample_body(operation), headers=headers(user_id))
        assert response.status_code == 200, (operation, response.text)
        out[operation] = response.json()
    check_sample_results(out, user_id)
    # One function per operation in the deployment: its own target, the same store.
    get, set_ = serve("get"), serve("set")
    written = post(set_, json={"namespace": "n", "key": "k", "value": [1]}, headers=headers(user_id))
    assert written.status_code == 200 and written.json() == {"version": 1, "created": True}
    read = post(get, json={"namespace": "n", "key": "k"}, headers=headers(user_id))
    assert read.json()["value"] == [1]
    refused = post(get, content="{", headers=headers(user_id))
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid_json"
