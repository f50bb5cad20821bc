"""The Lambda artifacts as `sam build` makes them, run as Lambda runs them.

template.yaml builds for arm64 (`make sam-build`, checked by infra/tools/check_build.py), which this
x86_64 machine cannot import; so the test builds the same template for x86_64 (only the architecture
fields differ), checks that build the same way, then imports and invokes every function from its own
build folder and the layer alone, in a fresh Python 3.12 process with the standard library and what the
runtime adds (boto3) and nothing else, on the local DynamoDB server (moto, which also serves Secrets
Manager for the token secret). A dependency missing from a function's package or from the layer fails
the import or the call here, as it would in Lambda.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from infra.tools.check_build import LAYER, check_build
from tests.aws.test_authorizer import AUDIENCE, SECRET, Keys, capability, request
from tests.aws.test_handlers import BAD, EVENTS, ORDER, event
from tests.aws.test_ttl_stream import event as stream_event
from tests.aws.test_ttl_stream import record_key, registry_entry, ttl_delete
from tests.support.lambda_env import lambda_service_env

from .cfn import ROOT, resolved, template
from .samples import check_sample_results
from .tools import pip_install_target, python312, sam

RUNNER = Path(__file__).with_name("lambda_runner.py")
ARCH_FIELDS = "Globals.Function.Architectures, CoreLayer CompatibleArchitectures and BuildArchitecture"


# The first test builds (sam build, boto3 from PyPI): longer than the suite's 300 s default allows under load.
pytestmark = pytest.mark.timeout(900)


def x86_64_template(path: Path) -> None:
    """template.yaml for x86_64 (JSON, the folders made absolute); nothing else changes."""
    doc = template()
    function_globals = doc["Globals"]["Function"]
    layer = doc["Resources"][LAYER]
    assert function_globals["Architectures"] == ["arm64"], f"template.yaml changed: update {ARCH_FIELDS} here"
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"] and layer["Metadata"]["BuildArchitecture"]
    function_globals["Architectures"] = ["x86_64"]
    layer["Properties"]["CompatibleArchitectures"] = ["x86_64"]
    layer["Metadata"]["BuildArchitecture"] = "x86_64"
    for resource in doc["Resources"].values():
        properties = resource.get("Properties", {})
        assert "Architectures" not in properties  # every function takes the global one
        for field in ("CodeUri", "ContentUri"):
            if field in properties:
                properties[field] = str(ROOT / properties[field])
    path.write_text(json.dumps(doc, indent=1))


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The x86_64 build, and the runtime's boto3 for Python 3.12, in a temporary folder."""
    sam_cli, python = sam(), python312()
    work = tmp_path_factory.mktemp("sam-x86_64")
    x86_64_template(work / "template.json")
    env = {**os.environ, "PATH": f"{Path(python).parent}:{os.environ['PATH']}", "SAM_CLI_TELEMETRY": "0"}
    subprocess.run(
        [sam_cli, "build", "--template-file", str(work / "template.json"), "--build-dir", str(work / "build")],
        cwd=work,
        env=env,
        check=True,
        timeout=900,
    )
    pip_install_target(python, work / "runtime", "boto3")
    return {"build": work / "build", "runtime": work / "runtime", "python": Path(python)}


def lambda_env(name: str, function: dict[str, Any], doc: dict[str, Any], build: dict[str, Path]) -> dict[str, str]:
    """The function's environment from the template, plus what the Lambda service sets."""
    variables = {
        **doc["Globals"]["Function"]["Environment"]["Variables"],
        **function["Properties"].get("Environment", {}).get("Variables", {}),
    }
    service = lambda_service_env(
        name,
        task_root=str(build["build"] / name),
        handler=function["Properties"]["Handler"],
        memory=memory(function, doc),
        endpoint=os.environ["AWS_ENDPOINT_URL_DYNAMODB"],
    )
    return {**service, "LAMBDA_RUNTIME_DIR": str(build["runtime"]), **variables}


def memory(function: dict[str, Any], doc: dict[str, Any]) -> int:
    return int(function["Properties"].get("MemorySize", doc["Globals"]["Function"]["MemorySize"]))


def invoke(build: dict[str, Path], doc: dict[str, Any], name: str, events: list[Any], tmp: Path) -> list[Any]:
    """`events` through function `name` in one fresh Python 3.12 process: its answers, in order."""
    function = doc["Resources"][name]
    job = tmp / f"{name}.json"
    out = tmp / f"{name}.out.json"
    timeout = int(function["Properties"].get("Timeout", doc["Globals"]["Function"]["Timeout"]))
    job.write_text(
        json.dumps(
            {
                "name": name,
                "handler": function["Properties"]["Handler"],
                "path": [str(build["build"] / name), str(build["build"] / LAYER / "python"), str(build["runtime"])],
                "events": events,
                "memory": memory(function, doc),
                "timeout_ms": timeout * 1000,
                "out": str(out),
            }
        )
    )
    env = lambda_env(name, function, doc, build)
    assert all(isinstance(value, str) for value in env.values()), {
        k: v for k, v in env.items() if not isinstance(v, str)
    }
    ran = subprocess.run(
        [str(build["python"]), "-I", "-S", str(RUNNER), str(job)],
        cwd=build["build"] / name,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ran.returncode == 0 and out.exists(), f"{name} did not run:\n{ran.stdout[-3000:]}\n{ran.stderr[-5000:]}"
    report = json.loads(out.read_text())
    foreign = report["foreign"]
    assert foreign == [], f"{name} loaded modules from outside its package, the layer and the runtime: {foreign}"
    errors = [answer["error"] for answer in report["answers"] if "error" in answer]
    assert not errors, f"{name} raised:\n" + "\n".join(errors)
    return [answer["result"] for answer in report["answers"]]


def body(answer: dict[str, Any]) -> Any:
    return json.loads(answer["body"]) if isinstance(answer["body"], str) else answer["body"]


@pytest.fixture
def secret_arn() -> str:
    """The capability-token secret in Secrets Manager (moto), as TokenSecretArn names it."""
    client = boto3.client("secretsmanager", endpoint_url=os.environ["AWS_ENDPOINT_URL_DYNAMODB"])
    return client.create_secret(Name=f"ads-token-{uuid.uuid4().hex[:8]}", SecretString=SECRET)["ARN"]


@pytest.fixture
def cursor_secret_arn() -> str:
    """The list_keys cursor key in Secrets Manager (moto), as the template's CursorSecret makes it."""
    client = boto3.client("secretsmanager", endpoint_url=os.environ["AWS_ENDPOINT_URL_DYNAMODB"])
    name = f"ads-cursor-{uuid.uuid4().hex[:8]}"
    return client.create_secret(Name=name, SecretString=uuid.uuid4().hex * 2)["ARN"]


def test_every_built_function_runs_from_its_package_and_the_layer_alone(
    build, table, secret_arn, cursor_secret_arn, tmp_path
):
    assert check_build(build["build"], "x86_64") == []
    keys = Keys()
    try:
        parameters = {"TableName": table, "TokenSecretArn": secret_arn, "JwtIssuer": keys.issuer}
        doc = resolved(refs={"DataTable": table, "CursorSecret": cursor_secret_arn}, JwtAudience=AUDIENCE, **parameters)
        http_user, direct_user, ttl_user = (f"user-{uuid.uuid4().hex[:10]}" for _ in range(3))

        # The authorizer: a capability token (secret from Secrets Manager), RS256 and ES256 JWTs
        # (PyJWT needs `cryptography`, from the authorizer's own requirements.txt), a foreign key id.
        allowed, rs256, es256, foreign = invoke(
            build,
            doc,
            "AuthorizerFunction",
            [
                request(capability(sub=http_user)),
                request(keys.token()),
                request(keys.token("ec")),
                request(capability(kid="k2")),
            ],
            tmp_path,
        )
    finally:
        keys.server.shutdown()
        keys.server.server_close()
    assert allowed["isAuthorized"] is True and allowed["context"]["userId"] == http_user
    assert rs256["context"].get("userId") == es256["context"].get("userId") == "platform-user", (rs256, es256)
    assert set(foreign["context"]) == {"denied"}

    # Each operation: the sample HTTP event carrying the authorizer's answer, the sample direct event,
    # and the operation's bad events.
    names = {f"/v1/{op}": name for name, r in doc["Resources"].items() for op in ORDER if _path(r) == f"/v1/{op}"}
    out: dict[str, dict[str, Any]] = {"http": {}, "direct": {}}
    for operation in ORDER:
        http = copy.deepcopy(json.loads((EVENTS / "http" / f"{operation}.json").read_text()))
        http["requestContext"]["authorizer"] = {"lambda": allowed["context"]}
        bad = sorted(name for name, (op, _, _) in BAD.items() if op == operation)
        events = [http, event("direct", operation, direct_user)]
        events += [json.loads((EVENTS / "bad" / f"{name}.json").read_text()) for name in bad]
        if operation == "set":  # a record for the TTL sweeper below
            events.append(event("direct", "set", ttl_user) | {"namespace": "expiring", "ttl_seconds": 600})
        answers = invoke(build, doc, names[f"/v1/{operation}"], events, tmp_path)
        for kind, answer in zip(("http", "direct"), answers, strict=False):
            assert answer["statusCode"] == 200, (operation, kind, answer)
            out[kind][operation] = body(answer)
        for name, answer in zip(bad, answers[2:], strict=False):
            status, code = BAD[name][1:]
            assert (answer["statusCode"], body(answer)["error"]["code"]) == (status, code), name
    check_sample_results(out["http"], http_user)
    check_sample_results(out["direct"], direct_user)

    # The stream consumer: DynamoDB's TTL deletes the record, the sweeper takes it out of the registry.
    from agent_datastore.stores.dynamodb.store import DynamoDBStore

    store = DynamoDBStore(table)
    assert registry_entry(store, ttl_user, "expiring") is not None
    removal = ttl_delete(store, record_key(ttl_user, "expiring", "greeting"))
    (swept,) = invoke(build, doc, "TtlSweeperFunction", [stream_event(removal)], tmp_path)
    assert swept == {"batchItemFailures": []}
    assert registry_entry(store, ttl_user, "expiring") is None


def _path(resource: dict[str, Any]) -> str | None:
    for source in resource.get("Properties", {}).get("Events", {}).values():
        if source["Type"] == "HttpApi":
            return source["Properties"]["Path"]
    return None


def test_the_build_check_notices_a_layer_missing_part_of_the_package(build):
    """check_build (also run on the arm64 build by `make sam-build`) is not a check that cannot fail."""
    handler = build["build"] / LAYER / "python" / "agent_datastore" / "edges" / "aws" / "handler.py"
    hidden = handler.with_name("handler.py.hidden")
    requirement = next((build["build"] / LAYER / "python").glob("pydantic-*.dist-info"))
    shutil.move(handler, hidden)
    shutil.move(requirement, requirement.with_name("moved.away"))
    try:
        problems = check_build(build["build"], "x86_64")
    finally:
        shutil.move(hidden, handler)
        shutil.move(requirement.with_name("moved.away"), requirement)
    assert f"{LAYER}: agent_datastore/edges/aws/handler.py missing" in problems
    assert f"{LAYER}: requirements not installed: pydantic" in problems
    assert any("is not built for arm64" in problem for problem in check_build(build["build"], "arm64"))
    assert check_build(build["build"], "x86_64") == []
