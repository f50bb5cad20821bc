"""What the sample events (events/aws/) give when run in ORDER by one user, on any platform."""

from __future__ import annotations

from typing import Any


def check_sample_results(out: dict[str, Any], user: str) -> None:
    """What test_handlers expects of the sample events, from the built functions."""
    assert out["set"] == {"version": 1, "created": True}
    assert out["get"]["value"] == {"text": "hello", "lang": "en"}
    assert out["get"]["record"]["userId"] == user and out["get"]["record"]["createdByAgent"] == "indexer"
    assert out["increment"] == {"value": 2, "version": 1}
    assert out["set_many"]["written"] == 3
    assert out["get_many"]["missing"] == ["nope"]
    assert out["list_keys"]["keys"] == ["a", "b"]
    assert out["list_namespaces"] == {"namespaces": ["notes"]}
    assert [(row["namespace"], row["keys"]) for row in out["stats"]["namespaces"]] == [("notes", 5)]
    assert out["delete"] == {"deleted": True}
    assert out["clear"] == {"deleted": 4}
