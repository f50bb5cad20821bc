"""The Firestore layout: unambiguous, byte-ordered, within Firestore's id limits."""

from __future__ import annotations

import random

from agent_datastore.core.records import Scope, Write, now_ms
from agent_datastore.stores.firestore.layout import (
    decode_doc_id,
    encode_name,
    key_doc_id,
    prefix_range,
    user_doc_id,
)


def random_text(rng: random.Random) -> str:
    pools = ["ab/:%", "\x01~\x7f", "é\u07ff\u0800", "\ufffd\uffff", "😀\U0010ffff"]
    return "".join(rng.choice(rng.choice(pools)) for _ in range(rng.randint(0, 12)))


def test_ids_keep_utf8_byte_order_and_round_trip():
    rng = random.Random(7)
    names = {random_text(rng) for _ in range(3000)}
    by_bytes = sorted(names, key=lambda name: name.encode("utf-8"))
    by_id = sorted(names, key=encode_name)
    assert by_id == by_bytes
    for name in names:
        if name:
            assert decode_doc_id(key_doc_id(name)) == name
            assert "/" not in key_doc_id(name)


def test_prefix_range_selects_exactly_the_prefixed_names():
    rng = random.Random(11)
    names = [random_text(rng) for _ in range(2000)]
    for prefix in ["a", "é", "😀", "\U0010ffff", "ab/", ""]:
        low, high = prefix_range("k", prefix)
        inside = {
            name
            for name in names
            if low <= "k" + encode_name(name) and (high is None or "k" + encode_name(name) < high)
        }
        assert inside == {name for name in names if name.startswith(prefix)}


def test_longest_key_fits_in_a_document_id():
    assert len(key_doc_id("\U0010ffff" * 256).encode()) <= 1500  # 1,024 bytes of UTF-8
    assert len(key_doc_id("k" * 1024)) == 1367
    assert user_doc_id("u" * 5000).startswith("h")  # too long to encode: hashed


def test_user_and_namespace_boundaries_are_unambiguous(fs, user_id):
    now = now_ms()
    # The original design's "{user}:{namespace}:..." made these two collide.
    first, second = Scope(f"{user_id}:b", "c"), Scope(user_id, "b:c")
    fs.put(first, "k", Write('"first"', "a"), now)
    fs.put(second, "k", Write('"second"', "a"), now)
    assert fs.get(first, "k", reader=None, now=now).value == "first"
    assert fs.get(second, "k", reader=None, now=now).value == "second"
    assert fs.list_namespaces(f"{user_id}:b", prefix="", now=now) == ["c"]
    assert fs.list_namespaces(user_id, prefix="", now=now) == ["b:c"]


def test_slashes_and_long_names_in_every_position(ds, fs, user_id, raw):
    namespace, key = "files:my-org/my-repo", "src/" + "é" * 510  # 1,024 bytes
    ds("set", namespace=namespace, key=key, value={"path": key})
    ds("set", namespace=namespace, key="/", value=1)
    assert ds("get", namespace=namespace, key=key)["value"] == {"path": key}
    assert ds("list_keys", namespace=namespace)["keys"] == ["/", key]
    assert ds("list_namespaces")["namespaces"] == [namespace]
    # Stored where the layout says, under the user's own document.
    ref = fs.documents.records(Scope(user_id, namespace)).document(key_doc_id(key))
    assert raw.document(ref.path).get().exists
    assert ref.path.startswith(f"{fs.collection}/{user_doc_id(user_id)}/namespaces/")


def test_very_long_user_id_is_stored_and_listed(fs):
    user = "user-" + "x" * 3000
    now = now_ms()
    fs.put(Scope(user, "n"), "k", Write("1", "a"), now)
    assert fs.get(Scope(user, "n"), "k", reader=None, now=now).value == 1
    assert user in set(fs.users())


def test_listing_follows_byte_order_across_pages_on_the_emulator(ds):
    keys = ["\ufffd", "😀", "é", "~", "a", "A", "a/", "a%", " ", "\x7f", "\u0800", "\u07ff"]
    ds("set_many", items={key: 1 for key in keys})
    expected = sorted(keys, key=lambda key: key.encode("utf-8"))
    seen, cursor = [], None
    while True:
        page = ds("list_keys", limit=5, cursor=cursor)
        seen += page["keys"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == expected
    assert ds("list_keys", prefix="a")["keys"] == ["a", "a%", "a/"]
