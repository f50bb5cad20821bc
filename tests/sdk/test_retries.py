"""Retries of the HTTP transport against a scripted stub upstream on 127.0.0.1.

429 is retried for every call (the request was refused before it ran); 503 and
lost answers only for idempotent calls; 4xx never.
"""

from __future__ import annotations

import asyncio
import json
import random
import time

import pytest

from agent_datastore_sdk import (
    AsyncDataStore,
    BackendUnavailable,
    ConnectionFailed,
    DataStore,
    Forbidden,
    InvalidKey,
    OutcomeUnknown,
    RetryPolicy,
    Throttled,
    Unauthorized,
    VersionConflict,
)
from tests.sdk.conftest import Answer, stub_upstream
from tests.servers import free_port

FAST = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05, rng=random.Random(7))


def unavailable(retry_after: str = "0") -> Answer:
    body = {"error": {"code": "backend_unavailable", "message": "try later", "request_id": "r"}}
    return Answer(503, body, {"retry-after": retry_after})


def throttled(retry_after: str = "0") -> Answer:
    body = {"error": {"code": "throttled", "message": "slow down", "request_id": "r"}}
    return Answer(429, body, {"retry-after": retry_after})


def error(status: int, code: str, **details: object) -> Answer:
    return Answer(status, {"error": {"code": code, "message": code, "details": details, "request_id": "r"}})


def test_503_then_200_is_retried_for_a_read() -> None:
    with stub_upstream(unavailable(), Answer(200, {"found": True, "value": 42})) as upstream:
        with DataStore(upstream.url, "t", retry=FAST) as store:
            assert store.get("k") == 42
        assert upstream.count == 2
        assert [json.loads(r["body"]) for r in upstream.requests] == [{"namespace": "default", "key": "k"}] * 2


@pytest.mark.parametrize(
    ("method", "answer"),
    [
        (lambda s: s.set("k", 1), {"version": 1, "created": True}),
        (lambda s: s.delete("k"), {"deleted": True}),
        (lambda s: s.clear(), {"deleted": 0}),
        (lambda s: s.set_many({"a": 1}), {"written": 1, "versions": {"a": 1}}),
        (lambda s: s.list_keys(), {"keys": [], "next_cursor": None}),
        (lambda s: s.stats(), {"namespaces": []}),
    ],
)
def test_503_is_retried_for_idempotent_operations(method: object, answer: dict[str, object]) -> None:
    with stub_upstream(unavailable(), Answer(200, answer)) as upstream, DataStore(upstream.url, retry=FAST) as store:
        method(store)  # type: ignore[operator]
        assert upstream.count == 2


@pytest.mark.parametrize(
    "method",
    [
        lambda s: s.increment("n"),
        lambda s: s.set("k", 1, if_version=3),
        lambda s: s.set("k", 1, if_version=0),
        lambda s: s.delete("k", if_version=1),
    ],
)
def test_503_is_not_retried_for_non_idempotent_calls(method: object) -> None:
    with stub_upstream(unavailable(), Answer(200, {"value": 1, "version": 1})) as upstream:
        with DataStore(upstream.url, retry=FAST) as store, pytest.raises(BackendUnavailable):
            method(store)  # type: ignore[operator]
        assert upstream.count == 1


def test_429_is_retried_even_for_increment() -> None:
    with stub_upstream(throttled(), throttled(), Answer(200, {"value": 3, "version": 3})) as upstream:
        with DataStore(upstream.url, retry=FAST) as store:
            assert store.increment("n") == 3
        assert upstream.count == 3


@pytest.mark.parametrize(
    ("answer", "exception"),
    [
        (error(400, "invalid_key"), InvalidKey),
        (error(401, "unauthorized"), Unauthorized),
        (error(403, "forbidden"), Forbidden),
        (error(409, "version_conflict", current_version=4), VersionConflict),
        (Answer(400, b"not json"), Exception),
    ],
)
def test_4xx_is_never_retried(answer: Answer, exception: type[Exception]) -> None:
    with stub_upstream(answer, Answer(200, {"found": False})) as upstream:
        with DataStore(upstream.url, retry=FAST) as store, pytest.raises(exception) as raised:
            store.get("k")
        assert upstream.count == 1
    if isinstance(raised.value, VersionConflict):
        assert raised.value.current_version == 4


def test_gives_up_after_the_configured_attempts() -> None:
    with stub_upstream(unavailable()) as upstream:
        with DataStore(upstream.url, retry=FAST) as store, pytest.raises(BackendUnavailable) as raised:
            store.get("k")
        assert upstream.count == 4
        assert raised.value.retry_after == 0
    with stub_upstream(throttled()) as upstream:
        with DataStore(upstream.url, retry=RetryPolicy(attempts=1)) as store, pytest.raises(Throttled):
            store.get("k")
        assert upstream.count == 1


def test_retry_after_is_honoured() -> None:
    with stub_upstream(throttled("1"), Answer(200, {"found": False})) as upstream:
        with DataStore(upstream.url, retry=FAST) as store:
            started = time.monotonic()
            assert store.get("k", "d") == "d"
            assert time.monotonic() - started >= 1.0
        assert upstream.count == 2


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    policy = RetryPolicy(base_delay=0.1, max_delay=1.0, max_retry_after=5.0, rng=random.Random(1))
    delays = [[policy.delay(attempt) for _ in range(200)] for attempt in (1, 2, 3, 6)]
    assert all(0 <= d <= 0.1 for d in delays[0]) and all(0 <= d <= 0.4 for d in delays[2])
    assert max(delays[3]) <= 1.0 and max(delays[3]) > 0.5
    assert len({round(d, 6) for d in delays[1]}) > 150  # jittered, not fixed
    assert policy.delay(1, retry_after=2.0) >= 2.0
    assert policy.delay(1, retry_after=100.0) == 5.0


def test_a_lost_answer_is_retried_only_when_idempotent() -> None:
    slow_then_fast = [Answer(200, {"found": True, "value": 1}, delay=1.0), Answer(200, {"found": True, "value": 2})]
    with stub_upstream(*slow_then_fast) as upstream, DataStore(upstream.url, timeout=0.3, retry=FAST) as store:
        assert store.get("k") == 2
        assert upstream.count == 2
    with stub_upstream(Answer(200, {"value": 1, "version": 1}, delay=1.0)) as upstream:
        with (
            DataStore(upstream.url, timeout=0.3, retry=FAST) as store,
            pytest.raises(OutcomeUnknown, match=upstream.url),
        ):
            store.increment("n")
        assert upstream.count == 1


def test_a_refused_connection_is_retried_and_reported() -> None:
    policy = RetryPolicy(attempts=3, base_delay=0.05, max_delay=0.05)
    url = f"http://127.0.0.1:{free_port()}"
    with DataStore(url, retry=policy) as store, pytest.raises(ConnectionFailed, match=f"at {url}"):
        store.increment("n")  # nothing was sent, so even increment may be retried


def test_clear_repeats_until_done() -> None:
    answers = [Answer(200, {"deleted": 500, "done": False}), Answer(200, {"deleted": 20, "done": False}),
               Answer(200, {"deleted": 3})]  # fmt: skip
    with stub_upstream(*answers) as upstream, DataStore(upstream.url) as store:
        assert store.clear() == 523
        assert upstream.count == 3


def test_get_many_asks_again_for_unprocessed_keys() -> None:
    answers = [
        Answer(200, {"values": {"a": 1}, "missing": ["c"], "unprocessed": ["b", "d"]}),
        Answer(200, {"values": {"d": 4}, "missing": [], "unprocessed": ["b"]}),
        Answer(200, {"values": {"b": 2}, "missing": [], "unprocessed": []}),
    ]
    with stub_upstream(*answers) as upstream, DataStore(upstream.url) as store:
        assert store.get_many(["a", "b", "c", "d"]) == {"a": 1, "b": 2, "d": 4}
        asked = [json.loads(r["body"])["keys"] for r in upstream.requests]
        assert asked == [["a", "b", "c", "d"], ["b", "d"], ["b"]]


def test_get_many_gives_up_when_no_progress_is_made() -> None:
    with stub_upstream(Answer(200, {"values": {}, "missing": [], "unprocessed": ["a"]})) as upstream:
        with DataStore(upstream.url) as store, pytest.raises(BackendUnavailable):
            store.get_many(["a"])
        assert upstream.count == 7


def test_set_many_and_get_many_split_requests() -> None:
    with stub_upstream(Answer(200, {"written": 0, "versions": {}})) as upstream, DataStore(upstream.url) as store:
        store.set_many({f"k{i}": i for i in range(250)})
        sizes = [len(json.loads(r["body"])["items"]) for r in upstream.requests]
        assert sizes == [100, 100, 50]
    big = "x" * (1024 * 1024 - 64)
    with stub_upstream(Answer(200, {"written": 0, "versions": {}})) as upstream, DataStore(upstream.url) as store:
        store.set_many({f"b{i}": big for i in range(13)}, {"m": "y" * 1000})
        bodies = [r["body"] for r in upstream.requests]
        assert all(len(body) <= 6 * 1024 * 1024 for body in bodies)
        assert sum(len(json.loads(body)["items"]) for body in bodies) == 13 and len(bodies) == 3
    with stub_upstream(Answer(200, {"values": {}, "missing": [], "unprocessed": []})) as upstream:
        with DataStore(upstream.url) as store:
            store.get_many([f"k{i}" for i in range(205)])
        assert [len(json.loads(r["body"])["keys"]) for r in upstream.requests] == [100, 100, 5]


def test_errors_without_the_contract_body_map_by_status() -> None:
    with stub_upstream(Answer(502, b"<html>bad gateway</html>")) as upstream:
        with DataStore(upstream.url, retry=FAST) as store, pytest.raises(BackendUnavailable):
            store.get("k")
        assert upstream.count == 4  # a gateway's 502 on a read is retried
    with stub_upstream(Answer(403, {"message": "Forbidden"})) as upstream:
        with DataStore(upstream.url, retry=FAST) as store, pytest.raises(Forbidden) as raised:
            store.get("k")
        assert raised.value.message == "Forbidden"


def test_async_client_retries_the_same_way() -> None:
    async def scenario(url: str) -> tuple[object, type[BaseException] | None]:
        async with AsyncDataStore(url, "t", retry=FAST) as store:
            value = await store.get("k")
            try:
                await store.increment("n")
            except BackendUnavailable as exc:
                return value, type(exc)
            return value, None

    answers = [unavailable(), Answer(200, {"found": True, "value": "v"}), unavailable(), Answer(200, {"value": 1})]
    with stub_upstream(*answers) as upstream:
        assert asyncio.run(scenario(upstream.url)) == ("v", BackendUnavailable)
        assert upstream.count == 3


def test_the_token_is_sent_as_a_bearer_header() -> None:
    with stub_upstream(Answer(200, {"found": False})) as upstream:
        with DataStore(upstream.url, "secret-token", agent="indexer") as store:
            store.get("k")
        headers = upstream.requests[0]["headers"]
        assert headers["authorization"] == "Bearer secret-token"
        assert headers["x-agent-name"] == "indexer"
        assert headers["content-type"] == "application/json"
    env = {"DATASTORE_URL": upstream.url, "DATASTORE_TOKEN": "from-env", "DATASTORE_NAMESPACE": "ns"}
    with stub_upstream(Answer(200, {"found": False})) as upstream:
        env["DATASTORE_URL"] = upstream.url
        with DataStore.from_env(env) as store:
            assert store.namespace == "ns"
            store.get("k")
        assert upstream.requests[0]["headers"]["authorization"] == "Bearer from-env"
        assert json.loads(upstream.requests[0]["body"])["namespace"] == "ns"
    with pytest.raises(ValueError):
        DataStore.from_env({})
