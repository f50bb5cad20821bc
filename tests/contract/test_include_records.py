"""list_keys with include_records: each key's whole record, not counted as a read (API.md section 4)."""

from __future__ import annotations

import json
import random
import string

from agent_datastore.core.limits import MAX_BODY_BYTES

MIB = 1024 * 1024
RECORD_MEMBERS = {
    "userId",
    "namespace",
    "key",
    "value",
    "metadata",
    "createdByAgent",
    "lastAccessedByAgent",
    "accessCount",
    "createdAt",
    "updatedAt",
    "version",
    "expiresAt",
}


def incompressible(length: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    alphabet = string.ascii_letters + string.digits + "+/"
    return "".join(rng.choice(alphabet) for _ in range(length))


def as_stored(ds, key, namespace="default"):
    """The record as it stands, without counting a read."""
    return ds("get", namespace=namespace, key=key, include_record=True, track_access=False)["record"]


def answer_bytes(answer):
    return len(json.dumps(answer, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def walk(ds, **body):
    """Every page of a listing: (pages, keys in order, records by key)."""
    pages, keys, records, cursor = [], [], {}, None
    while True:
        page = ds("list_keys", **body, **({"cursor": cursor} if cursor else {}))
        pages.append(page)
        keys += page["keys"]
        records.update(page.get("records", {}))
        cursor = page["next_cursor"]
        if cursor is None:
            return pages, keys, records


def test_records_are_whole_and_exactly_as_stored(ds, user_id):
    ds("set", key="a", value={"n": [1, 2.5, None]}, metadata={"m": "x"})
    ds("set", key="b", value="two", ttl_seconds=3600)
    ds("set", key="b", value="again", metadata={"k": 1}, ttl_seconds=3600)
    ds.as_agent("reader")("get", key="a")
    ds("set", key="c", value=None)
    page = ds("list_keys", include_records=True)
    assert set(page) == {"keys", "next_cursor", "records"}
    assert page["keys"] == ["a", "b", "c"] and page["next_cursor"] is None
    assert list(page["records"]) == ["a", "b", "c"]
    for key, record in page["records"].items():
        assert set(record) == RECORD_MEMBERS  # the kept TTL is not an answer's member
        assert record == as_stored(ds, key)
    a, b, c = (page["records"][key] for key in "abc")
    assert (a["value"], a["metadata"], a["accessCount"], a["lastAccessedByAgent"]) == (
        {"n": [1, 2.5, None]},
        {"m": "x"},
        1,
        "reader",
    )
    assert (b["value"], b["version"], b["metadata"], b["expiresAt"] is not None) == ("again", 2, {"k": 1}, True)
    assert (c["value"], c["expiresAt"], c["userId"], c["namespace"]) == (None, None, user_id, "default")


def test_listing_records_counts_no_read(ds):
    ds("set_many", items={"a": 1, "b": 2})
    before = {key: as_stored(ds, key) for key in "ab"}
    reader = ds.as_agent("lister")
    reader("list_keys", include_records=True)
    reader("list_keys", include_records=True, track_access=True)
    assert {key: as_stored(ds, key) for key in "ab"} == before
    page = reader("list_keys", include_records=True)
    assert all(
        record["accessCount"] == 0 and record["lastAccessedByAgent"] == "agent-a" for record in page["records"].values()
    )


def test_with_include_values_too_the_values_are_left_out_and_no_read_is_counted(ds):
    ds("set_many", items={"a": 1, "b": [2]})
    page = ds("list_keys", include_records=True, include_values=True)
    assert set(page) == {"keys", "next_cursor", "records"}
    assert {key: record["value"] for key, record in page["records"].items()} == {"a": 1, "b": [2]}
    assert all(record["accessCount"] == 0 for record in page["records"].values())
    assert as_stored(ds, "a")["accessCount"] == 0
    # include_values alone still counts its reads.
    ds("list_keys", include_values=True)
    assert as_stored(ds, "a")["accessCount"] == 1


def test_prefix_limit_and_cursor_page_records_like_keys(ds):
    ds("set_many", items={f"p/{i}": i for i in range(7)} | {"q": "other"})
    pages, keys, records = walk(ds, prefix="p/", limit=3, include_records=True)
    assert keys == [f"p/{i}" for i in range(7)] and len(pages) in (3, 4)
    assert all(list(page["records"]) == page["keys"] for page in pages)
    assert {key: record["value"] for key, record in records.items()} == {f"p/{i}": i for i in range(7)}


def test_expired_records_are_absent(ds, clock):
    ds("set", key="gone", value=1, ttl_seconds=30)
    ds("set", key="kept", value=2)
    ds("set", key="later", value=3, ttl_seconds=300)
    clock.advance(31)
    page = ds("list_keys", include_records=True)
    assert page["keys"] == ["kept", "later"] and list(page["records"]) == ["kept", "later"]


def test_an_empty_or_impossible_listing_carries_an_empty_records_member(ds):
    assert ds("list_keys", namespace="nothing", include_records=True) == {
        "keys": [],
        "next_cursor": None,
        "records": {},
    }
    assert ds("list_keys", prefix="x" * 1025, include_records=True) == {"keys": [], "next_cursor": None, "records": {}}
    assert ds("list_keys", prefix="x" * 1025, include_records=True, include_values=True) == {
        "keys": [],
        "next_cursor": None,
        "records": {},
    }


def test_values_near_one_mib_fill_pages_under_the_response_budget(ds):
    keys = [f"big{i}" for i in range(7)]
    for index, key in enumerate(keys):
        ds("set", key=key, value=incompressible(MIB - 2, index))  # 1 MiB of compact JSON each
    pages, listed, records = walk(ds, include_records=True)
    assert listed == keys and len(pages) >= 2
    assert 1 <= len(pages[0]["keys"]) <= 5  # 7 MiB cannot fit in a 6 MiB response
    for page in pages:
        assert answer_bytes(page) <= MAX_BODY_BYTES
        assert list(page["records"]) == page["keys"]
    assert all(records[key]["value"] == incompressible(MIB - 2, index) for index, key in enumerate(keys))
    assert all(as_stored(ds, key)["accessCount"] == 0 for key in keys)


def test_a_page_of_records_shrinks_to_fit_where_a_page_of_values_would_not(ds):
    # Six of these values fit one 6 MiB answer; six whole records (their 16 KB of metadata each
    # included) do not: the page of records holds fewer keys than the page of values.
    keys = [f"k{i}" for i in range(7)]
    metadata = {"notes": "m" * 16_000}
    for index, key in enumerate(keys):
        ds("set", key=key, value=incompressible(1_040_000 - 2, index), metadata=metadata)
    values_page = ds("list_keys", include_values=True, track_access=False)
    records_page = ds("list_keys", include_records=True)
    assert len(values_page["keys"]) == 6
    assert len(records_page["keys"]) == 5 and records_page["next_cursor"] is not None
    assert answer_bytes(records_page) <= MAX_BODY_BYTES
    rest = ds("list_keys", include_records=True, cursor=records_page["next_cursor"])
    assert records_page["keys"] + rest["keys"] == keys and rest["next_cursor"] is None
    assert all(record["metadata"] == metadata for record in rest["records"].values())


def test_records_stay_inside_the_callers_scope(ds):
    ds("set", namespace="mine", key="k", value=1)
    other = ds.as_agent("x", user="other-user-of-include-records")
    assert other("list_keys", namespace="mine", include_records=True)["records"] == {}
    page = ds("list_keys", namespace="mine", include_records=True)
    assert page["records"]["k"]["namespace"] == "mine"
