"""infra/gcp: one function, one service account and one route per operation and entry point, matching AWS."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml
from openapi_spec_validator import validate

from agent_datastore.api import service
from agent_datastore.stores.firestore.layout import pack_value

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra" / "gcp"
OPERATIONS = set(service.OPERATIONS)


def unquote(value: Any) -> Any:
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def resources() -> dict[tuple[str, str], dict[str, Any]]:
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(INFRA.glob("*.tf")):
        for block in hcl2.load(path.open()).get("resource", []):
            for kind, named in block.items():
                for name, body in named.items():
                    found[(unquote(kind), unquote(name))] = body
    return found


def locals_() -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for path in sorted(INFRA.glob("*.tf")):
        for block in hcl2.load(path.open()).get("locals", []):
            merged.update(block)
    return merged


def of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {name: body for (k, name), body in resources().items() if k == kind}


ENTRY_POINTS = ("api", "sandbox")


def terraform_binary() -> str | None:
    found = shutil.which("terraform")
    if found is None and Path("/usr/local/bin/terraform").exists():
        found = "/usr/local/bin/terraform"
    return found


def terraform_console(expression: str, files: dict[str, str], *variables: str) -> Any:
    """`expression` (JSON-encoded) as Terraform itself evaluates it in a folder of `files`."""
    terraform = terraform_binary()
    if terraform is None:
        pytest.skip("terraform is not installed here: Terraform evaluation NOT RUN")
    with tempfile.TemporaryDirectory() as folder:
        for name, text in files.items():
            (Path(folder) / name).write_text(text)
        result = subprocess.run(
            [terraform, "console", *(f"-var={v}" for v in variables)],
            input=f"jsonencode({expression})\n",
            capture_output=True,
            text=True,
            cwd=folder,
            env={k: v for k, v in os.environ.items() if k != "TF_CLI_CONFIG_FILE"},
            timeout=120,
        )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(json.loads(result.stdout))


def template_values(entry: str) -> dict[str, Any]:
    return {f"{op}_url": f"https://{entry}-{op}-fn.a.run.app" for op in OPERATIONS} | {
        "title": f"ads-{entry}",
        "project_id": "proj",
        "jwt_audiences": "aud",
        "deadline": 60,
        "jwt_security": entry == "api",
    }


def rendered_openapi(entry: str = "api") -> dict[str, Any]:
    """The spec of one entry point as Terraform renders it (templatefile) with stand-in values."""
    text = (INFRA / "openapi.yaml.tftpl").read_text()
    names = set(re.findall(r"\$\{(\w+)\}", text)) | set(re.findall(r"%\{ if (\w+) ~\}", text))
    gateway_tf = (INFRA / "gateway.tf").read_text()
    provided = {f"{op}_url" for op in OPERATIONS} | set(
        re.findall(r"^\s+(\w+)\s+=", gateway_tf.split("merge(")[1], re.M)
    )
    assert names <= provided, f"template needs values gateway.tf does not pass: {names - provided}"
    values = template_values(entry)
    text = re.sub(
        r"^%\{ if (\w+) ~\}\n(.*?)^%\{ endif ~\}\n",
        lambda m: m.group(2) if values[m.group(1)] else "",
        text,
        flags=re.S | re.M,
    )
    assert "%{" not in text, "a template directive the stand-in renderer does not know"
    return yaml.safe_load(re.sub(r"\$\{(\w+)\}", lambda m: str(values[m.group(1)]), text))


def functions_locals() -> str:
    text = (INFRA / "functions.tf").read_text()
    start = text.index("locals {")
    return text[start : text.index("\n}\n", start) + 3]


def test_terraform_is_formatted():
    terraform = terraform_binary()
    if terraform is None:
        pytest.skip("terraform is not installed here: `terraform fmt -check` NOT RUN")
    result = subprocess.run([terraform, "fmt", "-check", "-recursive", str(INFRA)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_one_function_and_one_service_account_per_operation_and_entry_point():
    found = locals_()
    listed = set(re.findall(r'\\?"(\w+)\\?"', found["operations"]))
    assert listed == OPERATIONS
    entries = found["all_entry_points"]
    assert set(entries) == set(ENTRY_POINTS)
    api, sandbox = entries["api"], entries["sandbox"]
    assert unquote(api["auth"]) == "gateway" and api["direct_callers"] == "${var.direct_callers}"
    assert api["jwt_security"] is True
    # The sandbox: capability tokens only, nobody may pose as a trusted direct caller, no gateway JWT.
    assert unquote(sandbox["auth"]) == "token" and sandbox["direct_callers"] == []
    assert sandbox["jwt_security"] is False
    (function,) = of_kind("google_cloudfunctions2_function").values()
    assert function["for_each"] == "${local.functions}"
    (build,) = function["build_config"]
    assert build["entry_point"] == "${each.value.operation}"
    (service,) = function["service_config"]
    assert service["service_account_email"] == "${google_service_account.function[each.key].email}"
    env = service["environment_variables"]
    assert unquote(env["STORE_BACKEND"]) == "firestore"
    assert env["DATASTORE_AUTH"] == "${each.value.auth}"
    assert env["DATASTORE_DIRECT_CALLERS"] == '${join(",", each.value.direct_callers)}'
    dynamic = {unquote(name): body for block in service["dynamic"] for name, body in block.items()}
    (secret,) = dynamic["secret_environment_variables"]["content"]
    assert unquote(secret["key"]) == "DATASTORE_TOKEN_SECRET"
    accounts = of_kind("google_service_account")
    assert accounts["function"]["for_each"] == "${local.functions}"
    assert accounts["function"]["account_id"] == "${each.value.account_id}"
    assert of_kind("google_secret_manager_secret_iam_member")["token_secret"]["for_each"] == (
        '${var.token_secret_id == "" ? {} : local.functions}'
    )
    # Each function may be invoked by its own entry point's gateway only (and the api's by direct callers).
    invokers = of_kind("google_cloud_run_service_iam_member")
    assert invokers["gateway_invoker"]["for_each"] == "${local.functions}"
    assert (
        unquote(invokers["gateway_invoker"]["member"])
        == "serviceAccount:${google_service_account.gateway[each.value.entry].email}"
    )
    assert "local.function_keys.api[" in invokers["direct_invoker"]["service"]
    for kind in ("google_api_gateway_api", "google_api_gateway_api_config", "google_api_gateway_gateway"):
        assert of_kind(kind)["api"]["for_each"] == "${local.entry_points}", kind
    assert accounts["gateway"]["for_each"] == "${local.entry_points}"
    # The entry points exist in functions/gcp/main.py under the same names.
    main = (ROOT / "functions" / "gcp" / "main.py").read_text()
    assert set(re.findall(r'^(\w+) = gcp_handler\("(\w+)"\)', main, re.M)) >= {(op, op) for op in OPERATIONS}


@pytest.mark.parametrize(
    ("variables", "entries"),
    [
        (["token_secret_id=s"], {"api", "sandbox"}),
        (["token_secret_id=s", "sandbox_gateway=false"], {"api"}),
        ([], {"api"}),  # no token secret: no capability token could pass, so no sandbox entry point
    ],
    ids=["sandbox", "sandbox-off", "no-token-secret"],
)
def test_functions_as_terraform_evaluates_them(variables, entries):
    files = {"variables.tf": (INFRA / "variables.tf").read_text(), "locals.tf": functions_locals()}
    callers = 'direct_callers=["indexer@p.iam.gserviceaccount.com"]'
    functions = terraform_console("local.functions", files, "project_id=proj", callers, *variables)
    points = terraform_console("local.entry_points", files, "project_id=proj", callers, *variables)
    assert points.keys() == entries
    gateway_accounts = [spec["gateway_sa"] for spec in points.values()]
    assert len(set(gateway_accounts)) == len(gateway_accounts)
    for account in gateway_accounts:
        assert re.fullmatch(r"[a-z][a-z0-9-]{4,28}[a-z0-9]", account), account
    # Exactly one function (with its own account) per operation and entry point.
    pairs = sorted((spec["entry"], spec["operation"]) for spec in functions.values())
    assert pairs == sorted((entry, op) for entry in entries for op in OPERATIONS)
    for key, spec in functions.items():
        assert key == (spec["operation"] if spec["entry"] == "api" else f"{spec['entry']}/{spec['operation']}")
        assert re.fullmatch(r"[a-z][a-z0-9-]{4,28}[a-z0-9]", spec["account_id"]), spec["account_id"]
        assert re.fullmatch(r"[a-z][a-z0-9-]{0,61}[a-z0-9]", spec["function_id"]), spec["function_id"]
        if spec["entry"] == "api":
            assert spec["auth"] == "gateway" and spec["direct_callers"] == ["indexer@p.iam.gserviceaccount.com"]
        else:
            assert spec["auth"] == "token" and spec["direct_callers"] == []
    assert len({spec["account_id"] for spec in functions.values()}) == len(functions)
    assert len({spec["function_id"] for spec in functions.values()}) == len(functions)


def test_function_accounts_hold_datastore_user_at_most():
    function_members = [
        body
        for (kind, _), body in resources().items()
        if kind.startswith("google_project_iam") and "google_service_account.function" in body.get("member", "")
    ]
    assert function_members, "the function accounts need roles/datastore.user"
    assert {unquote(body["role"]) for body in function_members} == {"roles/datastore.user"}
    for body in function_members:
        assert "google_firestore_database.store.name" in body["condition"][0]["expression"]
    for (kind, _), body in resources().items():
        if kind.startswith("google_project_iam") and body not in function_members:
            assert "google_service_account.function" not in str(body)


def test_firestore_ttl_policy_and_index_exemptions_match_the_backend():
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import firestore

    from agent_datastore.core.records import Scope
    from agent_datastore.stores.firestore.store import FirestoreStore

    fields = of_kind("google_firestore_field")
    ttl = fields["ttl"]
    assert ttl["for_each"] == '${toset(["records", "parts"])}' and unquote(ttl["field"]) == "expire_time"
    assert "ttl_config" in ttl and ttl["index_config"] in ([{"__is_block__": True}], [{}])
    exempt = {
        tuple(unquote(v) for v in (spec["collection"], spec["field"]))
        for spec in _object(fields["unindexed"]["for_each"])
    }
    # The names the backend really writes.
    store = FirestoreStore(client=firestore.Client(project="p", credentials=AnonymousCredentials()))
    records = store.documents.records(Scope("u", "n"))
    value_fields = set(pack_value("1")[0]) | set(pack_value("[" + "1," * 5000 + "1]")[0])
    assert {(records.id, name) for name in [*value_fields, "metadata"]} <= exempt
    assert (records.document("k").collection("parts").id, "data") in exempt
    assert of_kind("google_firestore_database")["store"]["type"] == '"FIRESTORE_NATIVE"'


def _object(expression: Any) -> list[dict[str, Any]]:
    if isinstance(expression, dict):
        return [value for key, value in expression.items() if not key.startswith("__")]
    return []


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_openapi_spec_is_valid_and_routes_every_operation_to_its_function(entry, monkeypatch):
    # Google API Gateway's documented security definition for Firebase/JWT issuers has
    # `authorizationUrl: ""`. The jsonschema-rs backend (installed with schemathesis) also checks the
    # `uri` format the Swagger 2.0 schema names, which the gateway itself does not; validate the
    # document's structure with the reference jsonschema backend, as before.
    monkeypatch.setenv("OPENAPI_SPEC_VALIDATOR_SCHEMA_VALIDATOR_BACKEND", "jsonschema")
    spec = rendered_openapi(entry)
    validate(spec)
    assert spec["swagger"] == "2.0"
    routes = {(method.upper(), path) for path, item in spec["paths"].items() for method in item}
    assert routes == {("POST", f"/v1/{op}") for op in OPERATIONS}
    for op in OPERATIONS:
        operation = spec["paths"][f"/v1/{op}"]["post"]
        backend = operation["x-google-backend"]
        # That entry point's own function, called with the gateway's ID token for that function.
        assert backend["address"] == backend["jwt_audience"] == f"https://{entry}-{op}-fn.a.run.app"
        assert backend["path_translation"] == "CONSTANT_ADDRESS"
        assert "security" not in operation
    if entry == "api":
        for name, scheme in spec["securityDefinitions"].items():
            assert scheme["type"] == "oauth2" and scheme["x-google-issuer"] and scheme["x-google-jwks_uri"], name
        assert spec["security"] and all(set(item) <= set(spec["securityDefinitions"]) for item in spec["security"])
        assert {tuple(item) for item in spec["security"]} == {("firebase",), ("google_id_token",)}
    else:
        # No gateway credential at all: the functions verify the capability token.
        assert "security" not in spec and "securityDefinitions" not in spec


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_terraform_renders_the_spec_as_the_tests_do(entry):
    values = template_values(entry)
    arguments = ", ".join(f"{name} = {json.dumps(value)}" for name, value in values.items())
    path = json.dumps(str(INFRA / "openapi.yaml.tftpl"))
    rendered = terraform_console(f"templatefile({path}, {{ {arguments} }})", {})
    assert yaml.safe_load(rendered) == rendered_openapi(entry)


class _CfnLoader(yaml.SafeLoader):
    pass


_CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_routes_match_the_aws_template(entry):
    gcp = {(method.upper(), path) for path, item in rendered_openapi(entry)["paths"].items() for method in item}
    template = ROOT / "template.yaml"
    aws: set[tuple[str, str]] = set()
    if template.exists():
        document = yaml.load(template.read_text(), Loader=_CfnLoader) or {}
        for resource in (document.get("Resources") or {}).values():
            for event in ((resource or {}).get("Properties") or {}).get("Events", {}).values():
                if event.get("Type") == "HttpApi":
                    aws.add((str(event["Properties"]["Method"]).upper(), event["Properties"]["Path"]))
    assert gcp == {("POST", f"/v1/{op}") for op in OPERATIONS}
    if aws:
        assert gcp == aws
