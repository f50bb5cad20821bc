"""A generative test: random sequences of all ten operations, on every backend, held to model.py.

hypothesis' RuleBasedStateMachine draws the steps: writes with metadata merges, TTLs and
`if_version` (CAS), deletes, increments (numbers, non-numbers, overflow), batch reads and writes,
clears, paged listings, namespace listings and stats, from two agents of one fresh user, and
moves the service's clock (it stands still otherwise, so expiry is exact to the millisecond and
never a race with the machine's speed). After every step the service's answer must equal the
model's, or both must refuse with the same error code.

Bounded in `make test` (MODEL_EXAMPLES x MODEL_STEPS per backend, derandomized so a run is
reproducible); `make fuzz` runs many more, with fresh random seeds.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test

from agent_datastore.api.service import DataStoreService
from agent_datastore.core.errors import DataStoreError
from agent_datastore.core.identity import Identity
from agent_datastore.core.settings import Settings
from agent_datastore.stores.base import Store
from tests.contract.conftest import Client, Clock

from .model import Model, Refused

FUZZ = os.environ.get("MODEL_FUZZ", "") == "1"
SETTINGS = settings(
    max_examples=int(os.environ.get("MODEL_EXAMPLES", "20")),
    stateful_step_count=int(os.environ.get("MODEL_STEPS", "30")),
    deadline=None,
    derandomize=not FUZZ,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    print_blob=True,
)

AGENTS = st.sampled_from(["agent-a", "agent-b"])
NAMESPACES = st.sampled_from(["default", "ns", "ns:sub", "ns/é"])
NAMESPACE_PREFIXES = st.sampled_from(["", "ns", "ns:", "n", "x"])
# Byte order and code-point order agree in UTF-8, not in UTF-16: U+E000 sorts before 🙂 only in the first.
KEYS = st.sampled_from(["a", "ab", "a/b", "b", "k:1", "a b", "%", "é", "\ue000", "🙂"])
KEY_PREFIXES = st.sampled_from(["", "a", "k", "\ue000", "🙂", "zz"])
NUMBERS = st.one_of(
    st.integers(-(2**52), 2**52),
    st.floats(allow_nan=False, allow_infinity=False),
)
VALUES = st.recursive(
    st.none() | st.booleans() | NUMBERS | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)
METADATA = st.none() | st.dictionaries(
    st.sampled_from(["m", "n", "o"]), st.none() | st.integers(0, 9) | st.text(max_size=3), max_size=3
)
TTLS = st.sampled_from([None, None, 1, 2, 10, 60])
IF_VERSIONS = st.none() | st.integers(0, 4)
FLAGS = st.sampled_from([None, True, False])
# -0.0 + 0.0 is 0.0: a zero step is written the same way by everyone (the sign would change stats bytes).
STEPS = st.none() | st.integers(-100, 100) | st.floats(-1e3, 1e3).map(lambda x: x + 0.0) | st.just(1e308)
SECONDS = st.sampled_from([0.001, 0.999, 1, 1.001, 2, 9.999, 61])


def same(actual: Any, expected: Any) -> bool:
    """JSON equality that also tells true from 1 and keeps the order of object members."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(actual) is type(expected) and actual == expected
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and list(actual) == list(expected)
            and all(same(actual[name], expected[name]) for name in expected)
        )
    if isinstance(expected, list):
        return isinstance(actual, list) and len(actual) == len(expected) and all(map(same, actual, expected))
    return bool(actual == expected) and (actual is None) == (expected is None)


def same_body(actual: dict[str, Any], expected: dict[str, Any]) -> bool:
    """Response bodies: members in any order, values as `same`."""
    return set(actual) == set(expected) and all(same(actual[name], expected[name]) for name in expected)


class DataStoreMachine(RuleBasedStateMachine):
    def __init__(self, store: Store, backend: str) -> None:
        super().__init__()
        self.backend = backend
        self.clock = Clock()
        self.user = f"model-{uuid.uuid4().hex[:12]}"
        self.service = DataStoreService(store, Settings(auth="none"), clock=self.clock)
        self.model = Model(self.user)

    @property
    def now(self) -> int:
        return self.clock()

    def call(self, agent: str, operation: str, body: dict[str, Any], nulls: bool = False) -> dict[str, Any]:
        """The service's answer; an optional member given as null counts as absent (section 3)."""
        if not nulls:  # `value` is required, and null is a value like any other
            body = {name: member for name, member in body.items() if member is not None or name == "value"}
        try:
            return Client(self.service, Identity(self.user, agent))(operation, **body)
        except DataStoreError as exc:
            raise Refused(exc.code, exc.details) from exc

    def check(self, agent: str, operation: str, body: dict[str, Any], expect: Any, nulls: bool = False) -> Any:
        """Run `operation` on the service and `expect()` on the model; their answers must agree."""
        try:
            expected: Any = expect()
        except Refused as refusal:
            event(f"{operation}: {refusal.code}")  # --hypothesis-show-statistics tells how often
            with pytest.raises(Refused) as caught:
                self.call(agent, operation, body, nulls)
            assert caught.value.code == refusal.code, (operation, body, caught.value.code, caught.value.details)
            if refusal.code == "version_conflict":
                assert caught.value.details.get("current_version") == refusal.details["current_version"]
            return None
        actual = self.call(agent, operation, body, nulls)
        assert same_body(actual, expected), f"{operation} {body}\n  service: {actual}\n  model:   {expected}"
        return actual

    # -- time -----------------------------------------------------------------------------------

    @initialize()
    def start(self) -> None:
        assert self.call("agent-a", "list_namespaces", {}) == {"namespaces": []}

    @rule(seconds=SECONDS)
    def advance_clock(self, seconds: float) -> None:
        stored = [entry for records in self.model.data.values() for entry in records.values()]
        self.clock.advance(seconds)
        if any(not entry.live(self.now) for entry in stored):
            event("the clock expired a record")

    # -- one key ----------------------------------------------------------------------------------

    @rule(agent=AGENTS, namespace=NAMESPACES, key=KEYS, include_record=FLAGS, track_access=FLAGS)
    def get(self, agent: str, namespace: str, key: str, include_record: bool | None, track_access: bool | None):
        body = {"namespace": namespace, "key": key, "include_record": include_record, "track_access": track_access}
        self.check(
            agent,
            "get",
            body,
            lambda: self.model.get(namespace, key, agent, self.now, include_record, track_access),
        )

    @rule(
        agent=AGENTS,
        namespace=NAMESPACES,
        key=KEYS,
        value=VALUES | NUMBERS,
        metadata=METADATA,
        ttl_seconds=TTLS,
        if_version=IF_VERSIONS,
        nulls=st.booleans(),
    )
    def set(self, agent, namespace, key, value, metadata, ttl_seconds, if_version, nulls) -> None:
        body = {
            "namespace": namespace,
            "key": key,
            "value": value,
            "metadata": metadata,
            "ttl_seconds": ttl_seconds,
            "if_version": if_version,
        }
        self.check(
            agent,
            "set",
            body,
            lambda: self.model.set(namespace, key, value, agent, self.now, metadata, ttl_seconds, if_version),
            nulls=nulls,
        )

    @rule(agent=AGENTS, namespace=NAMESPACES, key=KEYS, if_version=IF_VERSIONS)
    def delete(self, agent: str, namespace: str, key: str, if_version: int | None) -> None:
        body = {"namespace": namespace, "key": key, "if_version": if_version}
        self.check(agent, "delete", body, lambda: self.model.delete(namespace, key, self.now, if_version))

    @rule(agent=AGENTS, namespace=NAMESPACES, key=KEYS, by=STEPS, ttl_seconds=TTLS)
    def increment(self, agent: str, namespace: str, key: str, by: float | None, ttl_seconds: int | None) -> None:
        body = {"namespace": namespace, "key": key, "by": by, "ttl_seconds": ttl_seconds}
        step = 1 if by is None else by
        self.check(
            agent, "increment", body, lambda: self.model.increment(namespace, key, step, agent, self.now, ttl_seconds)
        )

    # -- many keys --------------------------------------------------------------------------------

    @rule(agent=AGENTS, namespace=NAMESPACES, keys=st.lists(KEYS, max_size=6), track_access=FLAGS)
    def get_many(self, agent: str, namespace: str, keys: list[str], track_access: bool | None) -> None:
        body = {"namespace": namespace, "keys": keys, "track_access": track_access}
        self.check(agent, "get_many", body, lambda: self.model.get_many(namespace, keys, agent, self.now, track_access))

    @rule(
        agent=AGENTS,
        namespace=NAMESPACES,
        items=st.dictionaries(KEYS, VALUES, max_size=4),
        metadata=METADATA,
        ttl_seconds=TTLS,
    )
    def set_many(self, agent, namespace, items, metadata, ttl_seconds) -> None:
        body = {"namespace": namespace, "items": items, "metadata": metadata, "ttl_seconds": ttl_seconds}
        self.check(
            agent,
            "set_many",
            body,
            lambda: self.model.set_many(namespace, items, agent, self.now, metadata, ttl_seconds),
        )

    @rule(agent=AGENTS, namespace=NAMESPACES)
    def clear(self, agent: str, namespace: str) -> None:
        expected = self.model.clear(namespace, self.now)
        deleted = 0
        for _ in range(100):  # the SDK repeats while done is false (section 4)
            answer = self.call(agent, "clear", {"namespace": namespace})
            deleted += answer["deleted"]
            if answer.get("done", True):
                break
        assert answer.get("done", True) and deleted == expected, (namespace, answer, deleted, expected)

    # -- listings ---------------------------------------------------------------------------------

    @rule(
        agent=AGENTS,
        namespace=NAMESPACES,
        prefix=KEY_PREFIXES,
        limit=st.sampled_from([None, 1, 2, 3, 1000]),
        include_values=FLAGS,
        track_access=FLAGS,
    )
    def list_keys(self, agent, namespace, prefix, limit, include_values, track_access) -> None:
        """Walk every page: each key once, in UTF-8 byte order, full pages, values counted as reads."""
        expected = self.model.list_keys(namespace, prefix, self.now)
        page_size = limit or 1000
        seen: list[str] = []
        cursor = None
        for _ in range(len(expected) + 2):
            body = {
                "namespace": namespace,
                "prefix": prefix,
                "limit": limit,
                "cursor": cursor,
                "include_values": include_values,
                "track_access": track_access,
            }
            page = self.call(agent, "list_keys", body)
            remaining = len(expected) - len(seen)
            assert page["keys"] == expected[len(seen) : len(seen) + min(page_size, remaining)], (body, page, expected)
            if include_values:
                assert same_body(page["values"], self.model.read_page(namespace, page["keys"], agent, track_access))
            else:
                assert "values" not in page, page
            seen += page["keys"]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert cursor is None and seen == expected, (seen, expected)

    @rule(agent=AGENTS, prefix=NAMESPACE_PREFIXES)
    def list_namespaces(self, agent: str, prefix: str) -> None:
        self.check(agent, "list_namespaces", {"prefix": prefix}, lambda: self.model.list_namespaces(prefix, self.now))

    @rule(agent=AGENTS, namespace=st.none() | NAMESPACES)
    def stats(self, agent: str, namespace: str | None) -> None:
        # CouchDB derives updatedAt from the live records (docs/contract-notes.md, docs/couchdb.md).
        expected = self.model.stats(self.now, namespace, updated_from_live=self.backend == "couchdb")
        actual = self.call(agent, "stats", {"namespace": namespace})
        by_name = {row["namespace"]: row for row in actual["namespaces"]}
        assert list(actual) == ["namespaces"] and len(by_name) == len(actual["namespaces"]), actual
        want = {row["namespace"]: row for row in expected["namespaces"]}
        assert by_name == want, f"stats {namespace}\n  service: {by_name}\n  model:   {want}"


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.node.callspec.params["backend_store"])


def test_service_behaves_as_the_model(backend_store: Store, backend: str) -> None:
    run_state_machine_as_test(lambda: DataStoreMachine(backend_store, backend), settings=SETTINGS)
