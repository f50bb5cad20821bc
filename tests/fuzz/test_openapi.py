"""schemathesis against the `/openapi.json` of a real `agent-datastore serve` (SQLite, auth off, random port).

Every operation gets schema-valid and schema-breaking bodies (schemathesis' coverage and fuzzing
phases); the run must see no server error (5xx) and no answer outside the document: a 200 body
as its response model says, every error in the contract's Error shape. Bounded in `make test`
(OPENAPI_EXAMPLES per operation, a fixed seed, so a run is reproducible); `make fuzz` asks for
many more with a fresh seed.

The schemathesis CLI is run rather than its pytest plugin: the plugin's lazily loaded schema
(`schemathesis.pytest.from_fixture`) does not work with the pytest pinned here.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from agent_datastore.api.service import OPERATIONS
from tests.support.server import running_server

EXAMPLES = os.environ.get("OPENAPI_EXAMPLES", "20")
SEED = os.environ.get("OPENAPI_SEED", "20261202")  # "random": schemathesis picks one and prints it
CHECKS = "not_a_server_error,response_schema_conformance"


def test_no_server_error_and_every_answer_as_documented(tmp_path: Path) -> None:
    with running_server(env={"DATASTORE_AUTH": "none"}) as server:
        command = [
            str(Path(sys.executable).with_name("schemathesis")),
            "run",
            f"{server.url}/openapi.json",
            "--checks",
            CHECKS,
            "--max-examples",
            EXAMPLES,
            "--request-timeout",
            "60",
            "--workers",
            "1",
            *([] if SEED == "random" else ["--seed", SEED]),
        ]
        # Its own files (an example database) go to a temporary folder, not the work tree.
        result = subprocess.run(
            command, cwd=tmp_path, capture_output=True, text=True, timeout=1800, env={**os.environ, "NO_COLOR": "1"}
        )
        server_log = server.output()
    report = result.stdout[-12000:] + result.stderr[-3000:]
    assert result.returncode == 0, f"schemathesis found problems:\n{report}\n--- server log ---\n{server_log[-3000:]}"
    tested = re.search(r"Tested: (\d+)", report)
    assert tested is not None and int(tested.group(1)) == len(OPERATIONS), report
