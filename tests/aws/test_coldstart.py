"""What a Lambda cold start loads: the modules each function's `app.py` imports, and those its
first event adds (docs/aws.md, "Cold start"; the timings are bench/coldstart.py's).

Each check runs in a fresh interpreter with the environment of a deployed function (inside Lambda,
tracing active), so a heavy module imported at import time, or by an unsampled first event, fails
here whatever the machine's speed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from agent_datastore.api.service import OPERATIONS

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = ROOT / "functions" / "aws"

# Loaded by the first event that needs them, never by importing an operation's function.
HEAVY = ("aws_xray_sdk", "wrapt", "jwt", "cryptography", "pydantic", "pydantic_core", "boto3")
# Never loaded by an operation whose caller the gateway verified: the token libraries, the
# response models (OpenAPI only), the X-Ray SDK before a sampled trace.
NOT_FOR_A_VERIFIED_REQUEST = ("aws_xray_sdk", "jwt", "cryptography", "agent_datastore.api.responses")

PROBE = """
import importlib.util, json, sys
loaded = {}
for folder in sys.argv[1:]:
    spec = importlib.util.spec_from_file_location(f"app_{len(loaded)}", folder + "/app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    loaded[folder] = module
event = json.loads(sys.stdin.read() or "null")
if event is not None:
    class Context:
        aws_request_id = "req-cold"
        function_name = "GetFunction"
        def get_remaining_time_in_millis(self):
            return 29000
    answer = loaded[sys.argv[1]].handler(event, Context())
    assert answer["statusCode"] == 200, answer
print(json.dumps(sorted(sys.modules)))
"""


def lambda_env(sampled: bool = False, **extra: str) -> dict[str, str]:
    """A deployed function's environment (template.yaml Globals and what the Lambda service sets)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "DATASTORE_", "POWERTOOLS_"))}
    env.update(
        STORE_BACKEND="dynamodb",
        DYNAMODB_TABLE="cold-start-table",
        DATASTORE_AUTH="gateway",
        DATASTORE_REQUEST_BUDGET="24",
        POWERTOOLS_SERVICE_NAME="agent-datastore",
        POWERTOOLS_METRICS_NAMESPACE="AgentDataStore",
        AWS_REGION="us-east-1",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_LAMBDA_FUNCTION_NAME="GetFunction",
        AWS_EXECUTION_ENV="AWS_Lambda_python3.12",
        LAMBDA_TASK_ROOT=str(FUNCTIONS / "get"),
        _X_AMZN_TRACE_ID=f"Root=1-6750a1b2-0123456789abcdef01234567;Parent=0123456789abcdef;Sampled={int(sampled)}",
        AWS_XRAY_CONTEXT_MISSING="LOG_ERROR",
        AWS_XRAY_DAEMON_ADDRESS="127.0.0.1:9",
    )
    env.update(extra)
    return env


def modules_after(folders: list[Path], env: dict[str, str], event: object = None) -> set[str]:
    ran = subprocess.run(
        [sys.executable, "-c", PROBE, *map(str, folders)],
        input=json.dumps(event),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    return set(json.loads(ran.stdout.splitlines()[-1]))


def loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in names or any(m == n for n in names))


def sample_event(operation: str) -> object:
    return json.loads((ROOT / "events" / "aws" / "http" / f"{operation}.json").read_text())


def test_importing_every_operation_function_loads_no_heavy_module():
    folders = [FUNCTIONS / name for name in OPERATIONS]
    modules = modules_after(folders, lambda_env())
    assert loaded(modules, HEAVY) == []
    assert "agent_datastore.api.service" not in modules
    assert "aws_lambda_powertools.logging" in modules  # Powertools stays, Logger and Metrics made at import


def test_an_unsampled_first_event_loads_neither_the_token_libraries_nor_xray_nor_the_response_models():
    # The memory store answers; the gateway verified the caller (the sample event's authorizer answer).
    modules = modules_after([FUNCTIONS / "get"], lambda_env(STORE_BACKEND="memory"), sample_event("get"))
    assert "agent_datastore.api.requests" in modules  # the event was parsed and answered
    assert loaded(modules, NOT_FOR_A_VERIFIED_REQUEST) == []


def test_a_sampled_first_event_makes_the_tracer_which_patches_botocore_only():
    modules = modules_after([FUNCTIONS / "get"], lambda_env(True, STORE_BACKEND="memory"), sample_event("get"))
    assert "aws_xray_sdk.core" in modules
    patched = sorted(m for m in modules if m.startswith("aws_xray_sdk.ext.") and m.endswith(".patch"))
    assert patched == ["aws_xray_sdk.ext.botocore.patch"]
    assert loaded(modules, ("jwt", "cryptography", "agent_datastore.api.responses")) == []
