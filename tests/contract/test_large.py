"""The limits hold on every backend: 1 MiB values, 1024-byte keys, 16 KiB metadata."""

from __future__ import annotations

import random
import string

import pytest

from agent_datastore.core import errors

MIB = 1024 * 1024


def incompressible(length: int) -> str:
    rng = random.Random(length)
    alphabet = string.ascii_letters + string.digits + "+/"
    return "".join(rng.choice(alphabet) for _ in range(length))


def test_one_mib_value_round_trips_is_overwritten_and_deleted(ds):
    big = incompressible(MIB - 2)  # + 2 quotes = exactly 1 MiB of compact JSON
    ds("set", key="big", value=big)
    assert ds("get", key="big")["value"] == big
    assert ds("get_many", keys=["big"])["values"]["big"] == big
    assert ds("stats")["namespaces"][0]["bytes"] == MIB + 2
    ds("set", key="big", value="small")
    assert ds("get", key="big")["value"] == "small"
    ds("set", key="big", value=big)
    assert ds("delete", key="big") == {"deleted": True}
    assert ds("get", key="big") == {"found": False}
    assert ds("list_namespaces")["namespaces"] == []


def test_one_byte_over_is_refused(ds):
    with pytest.raises(errors.ValueTooLarge):
        ds("set", key="big", value="x" * (MIB - 1))


def test_large_structured_value(ds):
    value = {f"field{i}": [i, str(i) * 50, {"nested": i / 3}] for i in range(4000)}
    ds("set", key="doc", value=value)
    assert ds("get", key="doc")["value"] == value


def test_longest_key_and_namespace(ds):
    key, namespace = "k" * 1024, "n" * 256
    ds("set", namespace=namespace, key=key, value=1, metadata={"m": "x" * (16 * 1024 - 10)})
    assert ds("get", namespace=namespace, key=key)["value"] == 1
    assert ds("list_keys", namespace=namespace)["keys"] == [key]
    assert ds("list_namespaces")["namespaces"] == [namespace]


def test_many_big_values_are_split_with_unprocessed(ds):
    big = incompressible(MIB - 2)
    keys = [f"big{i}" for i in range(7)]
    for key in keys:
        ds("set", key=key, value=big)
    result = ds("get_many", keys=keys)
    assert result["unprocessed"], "7 MiB cannot fit in a 6 MiB response"
    assert set(result["values"]) | set(result["unprocessed"]) == set(keys)
    rest = ds("get_many", keys=result["unprocessed"])
    assert set(result["values"]) | set(rest["values"]) == set(keys)
    page = ds("list_keys", include_values=True)
    assert page["next_cursor"] is not None and 1 <= len(page["keys"]) < 7
    assert list(page["values"]) == page["keys"]
    second = ds("list_keys", include_values=True, cursor=page["next_cursor"])
    assert page["keys"] + second["keys"] == sorted(keys)
