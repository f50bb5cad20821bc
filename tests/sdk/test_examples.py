"""The scenarios in `examples/`, run end to end as agent code.

Through the real sandbox proxy in front of the real server (token auth): the
scripts get only `DATASTORE_URL`, no credential. One runs in-process with a
`data_store` object handed in, as a sandbox would.
"""

from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
from contextlib import redirect_stdout
from io import StringIO
from pathlib import Path
from typing import Any

from agent_datastore_sdk import DataStore
from agent_datastore_sdk.transports.inprocess import InProcessTransport
from tests.sdk.conftest import RunningProxy, running_proxy
from tests.support.server import ROOT

EXAMPLES = ROOT / "examples"


def run_script(name: str, proxy: RunningProxy, *args: str) -> dict[str, Any]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("DATASTORE_")}
    env["DATASTORE_URL"] = proxy.url  # all the sandbox knows
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args], capture_output=True, text=True, env=env, timeout=120, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_cache_an_expensive_operation(sandbox_proxy: RunningProxy) -> None:
    first = run_script("cache_expensive_operation.py", sandbox_proxy)
    second = run_script("cache_expensive_operation.py", sandbox_proxy)
    assert first["cache_hit"] is False and second["cache_hit"] is True
    assert second["result"] == first["result"]
    assert second["seconds"] < first["seconds"]
    other = run_script("cache_expensive_operation.py", sandbox_proxy, "other/repo")
    assert other["cache_hit"] is False


def test_build_results_across_runs(sandbox_proxy: RunningProxy) -> None:
    runs = [run_script("build_results_across_runs.py", sandbox_proxy) for _ in range(3)]
    assert [run["done"] for run in runs] == [10, 20, 25]
    assert [run["runs"] for run in runs] == [1, 2, 3]
    assert [run["finished"] for run in runs] == [False, False, True]
    assert runs[2]["report"] == {"files": 25, "lines": sum(40 + 7 * i for i in range(25))}
    with DataStore(sandbox_proxy.url) as data_store:
        assert len(data_store.use_namespace("results:job-42").list_keys("file:")) == 25


def test_producer_and_consumer_share_reports(server: Any, user_id: str) -> None:
    with (
        running_proxy(server.url, "--user", user_id, "--agent", "producer") as producer,
        running_proxy(server.url, "--user", user_id, "--agent", "consumer") as consumer,
    ):
        assert run_script("shared_reports_producer.py", producer, "security")["published"] == "report:security"
        published = run_script("shared_reports_producer.py", producer, "costs")
        assert published["index"] == ["report:security", "report:costs"]
        first = run_script("shared_reports_consumer.py", consumer)
        assert first["new"] == ["report:costs", "report:security"]
        assert first["findings"] == 6
        assert first["authors"] == {"report:costs": "producer", "report:security": "producer"}
        assert run_script("shared_reports_consumer.py", consumer)["new"] == []
        run_script("shared_reports_producer.py", producer, "uptime")
        third = run_script("shared_reports_consumer.py", consumer)
        assert third["new"] == ["report:uptime"] and len(third["already_seen"]) == 2
    # A different user's sandbox sees none of it.
    with running_proxy(server.url, "--user", f"{user_id}-other", "--agent", "consumer") as stranger:
        assert run_script("shared_reports_consumer.py", stranger)["new"] == []


def test_discover_namespaces_and_search(sandbox_proxy: RunningProxy) -> None:
    run_script("cache_expensive_operation.py", sandbox_proxy)
    run_script("build_results_across_runs.py", sandbox_proxy)
    found = run_script("discover_and_search.py", sandbox_proxy, "python")
    assert found["namespaces"] == {"api-cache": 1, "results:job-42": 12}
    assert found["matches"] == {"api-cache": ["analysis:my-org/my-repo"]}
    modules = run_script("discover_and_search.py", sandbox_proxy, "module_03")
    assert modules["matches"] == {"results:job-42": ["file:src/module_03.py"]}


def run_in_sandbox(path: Path, data_store: DataStore, *args: str) -> dict[str, Any]:
    """Run a script the way a sandbox does: `data_store` already defined in its globals."""
    output = StringIO()
    argv = sys.argv
    sys.argv = [str(path), *args]
    try:
        with redirect_stdout(output):
            runpy.run_path(str(path), init_globals={"data_store": data_store}, run_name="__main__")
    finally:
        sys.argv = argv
    return json.loads(output.getvalue().strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_examples_in_process(user_id: str) -> None:
    data_store = DataStore(transport=InProcessTransport.memory(user_id, "embedded"))
    assert run_in_sandbox(EXAMPLES / "cache_expensive_operation.py", data_store)["cache_hit"] is False
    assert run_in_sandbox(EXAMPLES / "cache_expensive_operation.py", data_store)["cache_hit"] is True
    assert run_in_sandbox(EXAMPLES / "shared_reports_producer.py", data_store, "x")["index"] == ["report:x"]
    assert run_in_sandbox(EXAMPLES / "shared_reports_consumer.py", data_store)["authors"] == {"report:x": "embedded"}
    found = run_in_sandbox(EXAMPLES / "discover_and_search.py", data_store, "finding")
    assert found["matches"] == {"shared-reports": ["report:x"]}
