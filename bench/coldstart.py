"""Cold start: importing each function's entry point, and handling its first event, in a fresh
process, against the bare cloud SDK doing the least it could (the issue's targets: at most 1.5x).

    python -m tests.servers.run --only dynamodb,firestore -- python -m bench.coldstart --append bench/results.md

(`make bench` runs it.) The functions run as their platform runs them: Python 3.12 started isolated
(`-I -S`), seeing only the standard library and, in the runtime's order, the function's folder, the
Lambda layer (functions/aws/layer/requirements.txt and agent_datastore) and the runtime's boto3 -
installed for Python 3.12 into build/coldstart/ on the first run - with the environment template.yaml
gives the function plus what the Lambda service sets (tracing active; an unsampled trace unless the
case says "sampled"). The Cloud Functions entry sees functions/gcp/requirements.txt and agent_datastore.

Each case runs two commands in turn, A B A B ..., `--runs` times each after one warm-up of each (so
byte-code caches are warm on both sides). CPU (user + system) is the kernel's account of the reaped
child, peak memory the child's own VmHWM (ru_maxrss would count what the parent held before the
exec), wall time is measured around it; a ratio is A/B taken pair by pair, every figure a median.

- import: `import app` (AWS) or `import main` (GCP) / `import boto3` or `import google.cloud.firestore`;
- first event: the import, then the sample event events/aws/http/<op>.json through the handler on the
  DynamoDB test server / `import boto3` plus one raw GetItem there. GCP: a `get` request as API Gateway
  forwards it, on the Firestore emulator / the Firestore import plus one raw document get; Flask is
  loaded first on both sides (functions-framework has loaded it before it imports main.py).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import re
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench.sections import replace_section
from tests.support.lambda_env import lambda_service_env

ROOT = Path(__file__).resolve().parents[1]
HEADING = "## Cold start: entry points vs the bare cloud SDK"
TARGET = 1.5
CACHE = ROOT / "build" / "coldstart"
# The measured process: only the standard library modules the SDK imports anyway, so both sides pay alike.
CHILD = Path(__file__).with_name("coldstart_child.py")
USER = "user-7f3a9c"  # the user of the sample events (and of the GetItem key)


# --- the harness ------------------------------------------------------------------------------------


def python312() -> str:
    found = subprocess.run([str(ROOT / "infra" / "tools" / "python312.sh")], capture_output=True, text=True)
    if found.returncode != 0:
        raise SystemExit(found.stderr.strip())
    return found.stdout.strip()


def pip_target(python: str, target: Path, *args: str) -> None:
    """Install into `target` for `python`, pinned by requirements.lock, once (a stamp names the inputs)."""
    stamp = target / ".installed"
    wanted = json.dumps(args) + "".join(
        Path(arg).read_text() for arg in args if arg.endswith(".txt") and Path(arg).exists()
    )
    if stamp.exists() and stamp.read_text() == wanted:
        return
    print(f"coldstart: installing {' '.join(args)} into {target}", flush=True)
    subprocess.run(
        [
            *(python, "-m", "pip", "install", "-q", "--disable-pip-version-check"),
            *("-c", str(ROOT / "requirements.lock"), "--upgrade", "--target", str(target), *args),
        ],
        check=True,
    )
    stamp.write_text(wanted)


def layout(python: str) -> dict[str, Path]:
    """The folders a deployed function sees (installed on first use into build/coldstart/)."""
    dirs = {name: CACHE / name for name in ("layer", "runtime", "authorizer", "gcp")}
    pip_target(python, dirs["layer"], "-r", str(ROOT / "functions" / "aws" / "layer" / "requirements.txt"))
    pip_target(python, dirs["runtime"], "boto3")
    pip_target(python, dirs["authorizer"], "-r", str(ROOT / "functions" / "aws" / "authorizer" / "requirements.txt"))
    pip_target(python, dirs["gcp"], "-r", str(ROOT / "functions" / "gcp" / "requirements.txt"))
    return dirs


def aws_functions(refs: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Function resource name -> its folder, handler and environment variables, from template.yaml."""
    from tests.deploy.cfn import resolved

    doc = resolved(refs=refs, TableName=refs["DataTable"])
    common = doc["Globals"]["Function"]["Environment"]["Variables"]
    functions = {}
    for name, resource in doc["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        properties = resource["Properties"]
        variables = {**common, **properties.get("Environment", {}).get("Variables", {})}
        functions[name] = {
            "folder": ROOT / properties["CodeUri"],
            "module": properties["Handler"].rsplit(".", 1)[0],
            "env": {key: value for key, value in variables.items() if isinstance(value, str)},
        }
    return functions


def lambda_env(name: str, function: dict[str, Any], sampled: bool) -> dict[str, str]:
    """What a deployed function's process sees: what the Lambda service sets and its variables."""
    service = lambda_service_env(
        name,
        task_root=str(function["folder"]),
        handler=f"{function['module']}.handler",
        memory=512,
        endpoint=os.environ.get("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:1"),
        sampled=sampled,
    )
    return {**service, **function["env"]}


def run_once(command: list[str], env: dict[str, str]) -> dict[str, float]:
    """One fresh process: CPU seconds (user + system, the kernel's account of the reaped child), wall
    seconds around it, and the peak MiB the child reports (VmHWM)."""
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errors)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        errors.seek(0)
        said = errors.read().decode(errors="replace")
    peak = re.search(r"^coldstart-peak-kib=(\d+)$", said, re.MULTILINE)
    if process.returncode != 0 or peak is None:
        raise SystemExit(f"{' '.join(command)} failed:\n{said[-3000:]}")
    return {"cpu": usage.ru_utime + usage.ru_stime, "wall": wall, "peak": int(peak.group(1)) / 1024}


def paired(a: tuple[list[str], dict[str, str]], b: tuple[list[str], dict[str, str]], runs: int) -> dict[str, float]:
    """A and B in turn after one warm-up each: medians of each, and of the pairwise ratios A/B."""
    run_once(*a), run_once(*b)
    pairs = [(run_once(*a), run_once(*b)) for _ in range(runs)]
    result: dict[str, float] = {}
    for field in ("cpu", "wall", "peak"):
        result[f"a_{field}"] = statistics.median(x[field] for x, _ in pairs)
        result[f"b_{field}"] = statistics.median(y[field] for _, y in pairs)
        result[f"{field}_ratio"] = statistics.median(x[field] / y[field] for x, y in pairs)
    return result


class Cases:
    """Writes each measured process's spec to a file and runs the pairs."""

    def __init__(self, python: str, work: Path, runs: int) -> None:
        self.python, self.work, self.runs = python, work, runs

    def command(self, spec: dict[str, Any]) -> list[str]:
        path = self.work / f"{uuid.uuid4().hex}.json"
        path.write_text(json.dumps(spec))
        return [self.python, "-I", "-S", str(CHILD), str(path)]

    def pair(self, a: dict[str, Any], b: dict[str, Any], env: dict[str, str]) -> dict[str, float]:
        return paired((self.command(a), env), (self.command(b), env), self.runs)


def seed(table: str, cursor_secret_name: str) -> dict[str, str]:
    """The table (schema from template.yaml) and the cursor secret on the DynamoDB test server."""
    import boto3

    from agent_datastore.stores.dynamodb.store import DynamoDBStore

    DynamoDBStore(table).create()
    secrets = boto3.client("secretsmanager", endpoint_url=os.environ["AWS_ENDPOINT_URL_DYNAMODB"])
    arn = secrets.create_secret(Name=cursor_secret_name, SecretString=uuid.uuid4().hex * 2)["ARN"]
    return {"DataTable": table, "CursorSecret": arn}


def measure_aws(cases: Cases, dirs: dict[str, Path], only: set[str] | None) -> list[tuple[str, str, dict[str, float]]]:
    have_server = bool(os.environ.get("AWS_ENDPOINT_URL_DYNAMODB"))
    table = f"coldstart_{uuid.uuid4().hex[:8]}"
    refs = seed(table, f"coldstart-cursor-{uuid.uuid4().hex[:8]}") if have_server else {"DataTable": table}
    rows = []
    runtime = [str(dirs["layer"]), str(ROOT / "shared"), str(dirs["runtime"])]
    for name, function in aws_functions(refs).items():
        operation = Path(function["folder"]).name
        if only and operation not in only:
            continue
        path = [str(function["folder"])] + ([str(dirs["authorizer"])] if operation == "authorizer" else []) + runtime
        env = lambda_env(name, function, sampled=False)
        print(f"coldstart: {operation} import", flush=True)
        rows.append(
            (
                f"AWS {operation}: import",
                "`import boto3`",
                cases.pair(
                    {"kind": "import", "module": function["module"], "path": path},
                    {"kind": "boto3", "path": path},
                    env,
                ),
            )
        )
        sample = ROOT / "events" / "aws" / "http" / f"{operation}.json"
        if not (have_server and sample.exists()):
            continue
        event = json.loads(sample.read_text())
        baseline = {"kind": "getitem", "path": path, "table": table}
        for sampled in (False, True) if operation == "get" else (False,):
            label = f"AWS {operation}: import + first event" + (" (trace sampled)" if sampled else "")
            print(f"coldstart: {label}", flush=True)
            first = {"kind": "lambda-event", "module": function["module"], "name": name, "event": event, "path": path}
            measured = cases.pair(first, baseline, lambda_env(name, function, sampled))
            rows.append((label, "`import boto3` + one GetItem", measured))
        secret = function["env"].get("DATASTORE_CURSOR_SECRET_ARN")
        if secret:
            # This function's first event also fetches the cursor secret: the same two calls, raw.
            both = {"kind": "secret+getitem", "path": path, "table": table, "secret": secret}
            label = f"AWS {operation}: import + first event"
            print(f"coldstart: {label} vs the same calls raw", flush=True)
            measured = cases.pair(first, both, lambda_env(name, function, False))
            rows.append((label, "`import boto3` + GetSecretValue + GetItem", measured))
    return rows


def gcp_env(collection: str) -> dict[str, str]:
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "STORE_BACKEND": "firestore",
        "GOOGLE_CLOUD_PROJECT": os.environ.get("GOOGLE_CLOUD_PROJECT", "coldstart-project"),
        "FIRESTORE_COLLECTION": collection,
        "DATASTORE_AUTH": "gateway",
        "DATASTORE_DIRECT_CALLERS": "",
        "DATASTORE_REQUEST_BUDGET": "50",
        "LOG_LEVEL": "INFO",
    }
    if os.environ.get("FIRESTORE_EMULATOR_HOST"):
        env["FIRESTORE_EMULATOR_HOST"] = os.environ["FIRESTORE_EMULATOR_HOST"]
    return env


def measure_gcp(cases: Cases, dirs: dict[str, Path]) -> list[tuple[str, str, dict[str, float]]]:
    collection = f"coldstart_{uuid.uuid4().hex[:8]}"
    env = gcp_env(collection)
    path = [str(ROOT / "functions" / "gcp"), str(ROOT / "shared"), str(dirs["gcp"])]
    print("coldstart: gcp import", flush=True)
    rows = [
        (
            "GCP main.py: import",
            "`import google.cloud.firestore`",
            cases.pair({"kind": "import", "module": "main", "path": path}, {"kind": "firestore", "path": path}, env),
        )
    ]
    if not os.environ.get("FIRESTORE_EMULATOR_HOST"):
        return rows
    userinfo = base64.urlsafe_b64encode(json.dumps({"sub": USER}).encode()).decode().rstrip("=")
    request = {
        "kind": "gcp-request",
        "module": "main",
        "target": "get",
        "route": "/v1/get",
        "body": json.dumps({"namespace": "notes", "key": "greeting", "include_record": True}),
        "headers": {"content-type": "application/json", "x-apigateway-api-userinfo": userinfo},
        "path": path,
        "preload": ["flask"],
    }
    baseline = {"kind": "firestore-get", "collection": collection, "path": path, "preload": ["flask"]}
    print("coldstart: gcp first request", flush=True)
    rows.append(
        ("GCP get: import + first request", "Firestore import + one document get", cases.pair(request, baseline, env))
    )
    return rows


def render(rows: list[tuple[str, str, dict[str, float]]], runs: int, python: str) -> str:
    version = subprocess.run(
        [python, "-c", "import platform; print(platform.python_version())"], capture_output=True, text=True
    ).stdout.strip()
    lines = [
        HEADING,
        "",
        f"Produced by `python -m bench.coldstart --append bench/results.md` (`make bench`; {runs} paired runs of"
        f" each command after one warm-up each, fresh `python{version} -I -S` processes, on {platform.machine()}"
        f" with {os.cpu_count()} cores; DynamoDB: the moto test server, Firestore: its emulator). A is the entry"
        " point, B the bare SDK; medians, the ratios taken pair by pair. Target: A/B at most"
        f" {TARGET}x in CPU. Process layout and environment as deployed (see the module's docstring).",
        "",
        "| case | B | A cpu s | B cpu s | A/B cpu | A/B wall | A peak MiB | B peak MiB | A/B peak |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for label, baseline, r in rows:
        lines.append(
            f"| {label} | {baseline} | {r['a_cpu']:.3f} | {r['b_cpu']:.3f} | {r['cpu_ratio']:.2f}x"
            f" | {r['wall_ratio']:.2f}x | {r['a_peak']:.1f} | {r['b_peak']:.1f} | {r['peak_ratio']:.2f}x |"
        )
    worst = max((r["cpu_ratio"] for _, _, r in rows), default=float("nan"))
    lines += ["", f"Largest A/B cpu: {worst:.2f}x (target {TARGET}x)."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--only", default="", help="comma-separated AWS function folders (default: all), 'gcp' for GCP")
    parser.add_argument("--append", type=Path, help="replace (or add) this section of the results file")
    args = parser.parse_args(argv)
    only = {name for name in args.only.split(",") if name} or None
    python = python312()
    dirs = layout(python)
    with tempfile.TemporaryDirectory() as work:
        cases = Cases(python, Path(work), args.runs)
        rows = measure_aws(cases, dirs, only) if only is None or only - {"gcp"} else []
        if only is None or "gcp" in only:
            rows += measure_gcp(cases, dirs)
    section = render(rows, args.runs, python)
    print(section)
    if args.append:
        replace_section(args.append, section)
        print(f"wrote {args.append}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
