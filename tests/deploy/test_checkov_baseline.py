""".ci/checkov-baseline.json, the checkov findings accepted on purpose: each with its reason, each still
about a resource that exists (`make check` runs checkov against it; a finding not in it fails)."""

from __future__ import annotations

import json

from tests.gcp.test_infra import resources as terraform_resources

from .cfn import ROOT, template

BASELINE = ROOT / ".ci" / "checkov-baseline.json"


def test_every_accepted_finding_has_its_reason_and_every_reason_a_finding():
    baseline = json.loads(BASELINE.read_text())
    accepted = {
        check for file in baseline["failed_checks"] for finding in file["findings"] for check in finding["check_ids"]
    }
    assert accepted == set(baseline["reasons"])
    assert all(len(reason) > 40 for reason in baseline["reasons"].values())


def test_the_accepted_findings_name_resources_that_exist():
    baseline = json.loads(BASELINE.read_text())
    files = {file["file"]: file["findings"] for file in baseline["failed_checks"]}
    assert set(files) == {"/template.yaml", "/functions.tf"}
    cfn = template()["Resources"]
    for finding in files["/template.yaml"]:
        kind, name = finding["resource"].rsplit(".", 1)
        assert cfn[name]["Type"] == kind, finding
    terraform = terraform_resources()
    for finding in files["/functions.tf"]:
        kind, name = finding["resource"].split(".", 1)
        assert (kind, name) in terraform, finding
    # Nothing is accepted about the table, the logs or the stream consumer's DLQ: those are fixed.
    named = {finding["resource"] for finding in files["/template.yaml"]}
    assert not {"AWS::DynamoDB::Table.DataTable", "AWS::Logs::LogGroup.FunctionLogGroup"} & named
    sweeper = next(f for f in files["/template.yaml"] if f["resource"].endswith(".TtlSweeperFunction"))
    assert sweeper["check_ids"] == ["CKV_AWS_117"]
