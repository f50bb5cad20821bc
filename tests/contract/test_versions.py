"""Optimistic concurrency with if_version (API.md section 4)."""

from __future__ import annotations

import pytest

from agent_datastore.core import errors


def test_set_if_version_matches(ds):
    ds("set", key="v", value=1)
    assert ds("set", key="v", value=2, if_version=1) == {"version": 2, "created": False}


def test_set_if_version_conflict_changes_nothing(ds):
    ds("set", key="v", value=1)
    ds("set", key="v", value=2)
    with pytest.raises(errors.VersionConflict) as caught:
        ds("set", key="v", value=3, if_version=1)
    assert caught.value.details == {"current_version": 2}
    assert ds("get", key="v", include_record=True)["record"]["version"] == 2
    assert ds("get", key="v")["value"] == 2


def test_if_version_zero_means_only_if_absent(ds):
    assert ds("set", key="v", value=1, if_version=0) == {"version": 1, "created": True}
    with pytest.raises(errors.VersionConflict) as caught:
        ds("set", key="v", value=2, if_version=0)
    assert caught.value.details["current_version"] == 1


def test_if_version_on_absent_key_reports_zero(ds):
    with pytest.raises(errors.VersionConflict) as caught:
        ds("set", key="nope", value=1, if_version=3)
    assert caught.value.details["current_version"] == 0
    assert ds("get", key="nope") == {"found": False}


def test_delete_if_version(ds):
    ds("set", key="v", value=1)
    with pytest.raises(errors.VersionConflict):
        ds("delete", key="v", if_version=2)
    assert ds("get", key="v")["found"]
    assert ds("delete", key="v", if_version=1) == {"deleted": True}


def test_delete_if_version_zero_of_absent_key(ds):
    assert ds("delete", key="nope", if_version=0) == {"deleted": False}
    ds("set", key="v", value=1)
    with pytest.raises(errors.VersionConflict):
        ds("delete", key="v", if_version=0)


def test_reads_do_not_change_the_version(ds):
    ds("set", key="v", value=1)
    ds("get", key="v")
    ds("get_many", keys=["v"])
    assert ds("set", key="v", value=2, if_version=1)["version"] == 2


def test_increment_is_a_write(ds):
    ds("set", key="n", value=1)
    assert ds("increment", key="n") == {"value": 2, "version": 2}
    with pytest.raises(errors.VersionConflict):
        ds("set", key="n", value=0, if_version=1)
