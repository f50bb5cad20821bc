"""infra/gcp: one function, one service account and one route per operation, matching AWS."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml
from openapi_spec_validator import validate

from agent_datastore.backends.firestore_layout import pack_value
from agent_datastore.models import REQUEST_MODELS

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra" / "gcp"
OPERATIONS = set(REQUEST_MODELS)


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


def rendered_openapi() -> dict[str, Any]:
    """The spec as Terraform renders it (templatefile) with stand-in values."""
    text = (INFRA / "openapi.yaml.tftpl").read_text()
    names = set(re.findall(r"\$\{(\w+)\}", text))
    gateway_tf = (INFRA / "gateway.tf").read_text()
    provided = {f"{op}_url" for op in OPERATIONS} | set(
        re.findall(r"^\s+(\w+)\s+=", gateway_tf.split("merge(")[1], re.M)
    )
    assert names <= provided, f"template needs values gateway.tf does not pass: {names - provided}"
    values = {f"{op}_url": f"https://{op}-fn.a.run.app" for op in OPERATIONS} | {"deadline": "60"}
    return yaml.safe_load(re.sub(r"\$\{(\w+)\}", lambda m: values.get(m.group(1), f"stand-in-{m.group(1)}"), text))


def test_terraform_is_formatted():
    terraform = shutil.which("terraform") or (
        "/usr/local/bin/terraform" if Path("/usr/local/bin/terraform").exists() else None
    )
    if terraform is None:
        pytest.skip("terraform is not installed here: `terraform fmt -check` NOT RUN")
    result = subprocess.run([terraform, "fmt", "-check", "-recursive", str(INFRA)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_one_function_and_one_service_account_per_operation():
    listed = set(re.findall(r'\\?"(\w+)\\?"', locals_()["operations"]))
    assert listed == OPERATIONS
    (function,) = of_kind("google_cloudfunctions2_function").values()
    assert function["for_each"] == "${local.operations}"
    (build,) = function["build_config"]
    assert build["entry_point"] == "${each.key}"
    (service,) = function["service_config"]
    assert service["service_account_email"] == "${google_service_account.function[each.key].email}"
    assert unquote(service["environment_variables"]["STORE_BACKEND"]) == "firestore"
    accounts = of_kind("google_service_account")
    assert accounts["function"]["for_each"] == "${local.operations}"
    # The entry points exist in functions/gcp/main.py under the same names.
    main = (ROOT / "functions" / "gcp" / "main.py").read_text()
    assert set(re.findall(r'^(\w+) = gcp_handler\("(\w+)"\)', main, re.M)) >= {(op, op) for op in OPERATIONS}


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

    from agent_datastore.backends.firestore import FirestoreStore
    from agent_datastore.records import Scope

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
    records = store._records(Scope("u", "n"))
    value_fields = set(pack_value("1")[0]) | set(pack_value("[" + "1," * 5000 + "1]")[0])
    assert {(records.id, name) for name in [*value_fields, "metadata"]} <= exempt
    assert (records.document("k").collection("parts").id, "data") in exempt
    assert of_kind("google_firestore_database")["store"]["type"] == '"FIRESTORE_NATIVE"'


def _object(expression: Any) -> list[dict[str, Any]]:
    if isinstance(expression, dict):
        return [value for key, value in expression.items() if not key.startswith("__")]
    return []


def test_openapi_spec_is_valid_and_routes_every_operation_to_its_function():
    spec = rendered_openapi()
    validate(spec)
    assert spec["swagger"] == "2.0"
    routes = {(method.upper(), path) for path, item in spec["paths"].items() for method in item}
    assert routes == {("POST", f"/v1/{op}") for op in OPERATIONS}
    for op in OPERATIONS:
        backend = spec["paths"][f"/v1/{op}"]["post"]["x-google-backend"]
        assert backend["address"] == f"https://{op}-fn.a.run.app"
        assert backend["path_translation"] == "CONSTANT_ADDRESS"
    for name, scheme in spec["securityDefinitions"].items():
        assert scheme["type"] == "oauth2" and scheme["x-google-issuer"] and scheme["x-google-jwks_uri"], name
    assert spec["security"] and all(set(item) <= set(spec["securityDefinitions"]) for item in spec["security"])


class _CfnLoader(yaml.SafeLoader):
    pass


_CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def test_routes_match_the_aws_template():
    gcp = {(method.upper(), path) for path, item in rendered_openapi()["paths"].items() for method in item}
    template = ROOT / "template.yaml"
    aws: set[tuple[str, str]] = set()
    if template.exists():
        document = yaml.load(template.read_text(), Loader=_CfnLoader) or {}
        for resource in (document.get("Resources") or {}).values():
            for event in ((resource or {}).get("Properties") or {}).get("Events", {}).values():
                if event.get("Type") == "HttpApi":
                    aws.add((str(event["Properties"]["Method"]).upper(), event["Properties"]["Path"]))
    assert gcp == {("POST", f"/v1/{op}") for op in REQUEST_MODELS}
    if aws:
        assert gcp == aws
