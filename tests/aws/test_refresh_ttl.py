"""refresh_ttl on DynamoDB: the kept TTL in the item, the chunks of a large value, a write racing a refresh."""

from __future__ import annotations

from agent_datastore.core.records import Scope, Write
from agent_datastore.stores.dynamodb import codec
from agent_datastore.stores.dynamodb.store import DynamoDBStore
from tests.aws.test_round_trips import big_value


def item(store, user_id, key):
    return store.db.get_item(codec.record_key(Scope(user_id, "default"), key))


def test_the_item_keeps_its_ttl_until_a_write_without_one(ds, store, user_id):
    ds("set", key="k", value=1, ttl_seconds=600)
    stored = item(store, user_id, "k")
    assert (stored["ts"], stored["tm"]) == ({"N": "600"}, {"N": "600000"})
    ds("set", key="k", value=2)
    assert not {"ts", "tm", "exp", "ttl", "xu"} & set(item(store, user_id, "k"))
    ds("increment", key="n", ttl_seconds=30)
    assert item(store, user_id, "n")["ts"] == {"N": "30"}


def test_a_refresh_moves_the_table_ttl_and_every_chunk_ttl_with_the_expiry(ds, store, user_id, clock):
    ds("set", key="small", value="s", ttl_seconds=600)
    ds("set", key="big", value=big_value(4), ttl_seconds=600)
    clock.advance(300)
    for key in ("small", "big"):
        now = clock()
        ds("get", key=key, refresh_ttl=True)
        stored = item(store, user_id, key)
        expires = int(stored["exp"]["N"])
        assert now + 600_000 <= expires <= clock() + 600_000
        assert int(stored["ttl"]["N"]) == codec.ttl_seconds(expires)
    big = item(store, user_id, "big")
    chunks = codec.chunk_keys(Scope(user_id, "default"), "big", big)
    assert len(chunks) == 3
    # No chunk may be removed by DynamoDB's TTL before its record.
    assert all(store.db.get_item(key)["ttl"] == big["ttl"] for key in chunks)


def test_a_write_landing_while_the_chunks_are_refreshed_wins(ds, store, user_id, clock):
    ds("set", key="big", value=big_value(5), ttl_seconds=600)
    scope = Scope(user_id, "default")
    other = DynamoDBStore(store.table)
    landed = []

    def another_writer_lands(params, **_):
        if params["Key"]["pk"]["S"].startswith(codec.CHUNK_PREFIX) and not landed:
            landed.append(True)  # overwrites the record (and deletes the chunks being refreshed)
            now = clock()
            other.put(scope, "big", Write('"small"', "other", expires_at=now + 900_000), now)

    store.client.meta.events.register("before-parameter-build.dynamodb.UpdateItem", another_writer_lands)
    clock.advance(100)
    before = clock()
    answer = ds("get", key="big", refresh_ttl=True, include_record=True)
    after = clock()
    assert landed and answer["value"] == "small"
    record = answer["record"]
    assert (record["version"], record["accessCount"]) == (2, 1)
    stored = item(store, user_id, "big")
    assert stored["v"] == {"S": '"small"'} and stored["ts"] == {"N": "900"}
    # The refresh started over on the version the racing write left, with that write's TTL.
    assert before + 900_000 <= int(stored["exp"]["N"]) <= after + 900_000
