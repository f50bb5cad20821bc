"""infra/gcp hardening: the source bucket is never public and keeps replaced archives a while; every
provider is pinned to one major version."""

from __future__ import annotations

import re

import hcl2

from .test_infra import INFRA, resources, unquote


def blocks(body, name):
    return body.get(name, [])


def test_the_source_bucket_prevents_public_access_and_keeps_replaced_archives_for_a_while():
    bucket = resources()[("google_storage_bucket", "source")]
    assert unquote(bucket["public_access_prevention"]) == "enforced"
    assert bucket["uniform_bucket_level_access"] is True
    (versioning,) = blocks(bucket, "versioning")
    assert versioning["enabled"] is True
    # Versioning alone would keep every replaced archive forever: they are deleted after a while.
    (rule,) = blocks(bucket, "lifecycle_rule")
    (condition,) = blocks(rule, "condition")
    (action,) = blocks(rule, "action")
    assert unquote(action["type"]) == "Delete"
    assert condition == {"days_since_noncurrent_time": "${var.source_versions_days}", "__is_block__": True}
    variables = {
        unquote(name): body
        for block in hcl2.load((INFRA / "variables.tf").open())["variable"]
        for name, body in block.items()
    }
    assert variables["source_versions_days"]["default"] > 0


def test_providers_and_terraform_are_pinned_to_one_major_version():
    (terraform,) = hcl2.load((INFRA / "versions.tf").open())["terraform"]
    (providers,) = terraform["required_providers"]
    pinned = {name: unquote(spec["version"]) for name, spec in providers.items() if name != "__is_block__"}
    assert set(pinned) == {"google", "google-beta", "archive", "random"}
    for name, constraint in pinned.items():
        # "~> M.N" admits M.N and later minors of major M, never M+1.
        assert re.fullmatch(r"~> \d+\.\d+", constraint), (name, constraint)
    assert pinned["google"] == pinned["google-beta"]  # one API surface, both providers from the same release line
    assert re.search(r"< ?2\.0", unquote(terraform["required_version"]))
