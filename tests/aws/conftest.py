"""Fixtures for the AWS tests: a table on the local DynamoDB-protocol server, call counting.

These tests need `AWS_ENDPOINT_URL_DYNAMODB` (started by
`python -m tests.servers.run --only dynamodb -- ...`); without it they skip,
unless dynamodb is in DATASTORE_REQUIRE_BACKENDS, where they fail.
"""

from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from agent_datastore.api.service import DataStoreService
from agent_datastore.core.identity import Identity
from agent_datastore.core.settings import Settings
from tests.contract.conftest import Client, Clock


def _need_server() -> None:
    if os.environ.get("AWS_ENDPOINT_URL_DYNAMODB"):
        return
    required = os.environ.get("DATASTORE_REQUIRE_BACKENDS", "")
    if "dynamodb" in required.split(","):
        pytest.fail("dynamodb is required here but AWS_ENDPOINT_URL_DYNAMODB is not set")
    pytest.skip("AWS TESTS NOT RUN: AWS_ENDPOINT_URL_DYNAMODB is not set (use tests.servers.run --only dynamodb)")


class Calls:
    """DynamoDB API calls made through one boto3 client, counted with botocore's event hooks."""

    def __init__(self, client: Any) -> None:
        self.counts: Counter[str] = Counter()
        self.log: list[tuple[str, dict[str, Any]]] = []
        # Once per API call with its parameters (botocore's own retries are not counted).
        client.meta.events.register("before-parameter-build.dynamodb.*", self._seen)

    def _seen(self, event_name: str, params: dict[str, Any], **_: Any) -> None:
        operation = event_name.rsplit(".", 1)[-1]
        self.counts[operation] += 1
        self.log.append((operation, params))

    def reset(self) -> None:
        self.counts.clear()
        self.log.clear()

    def take(self) -> dict[str, int]:
        counts = dict(self.counts)
        self.reset()
        return counts


@pytest.fixture(scope="session")
def table() -> Iterator[str]:
    """One table per session, created from template.yaml via DynamoDBStore.create()."""
    _need_server()
    from agent_datastore.stores.dynamodb.store import DynamoDBStore

    name = f"aws_{uuid.uuid4().hex[:12]}"
    store = DynamoDBStore(name)
    store.create()
    yield name
    store.drop()


@pytest.fixture
def store(table: str) -> Any:
    from agent_datastore.stores.dynamodb.store import DynamoDBStore

    return DynamoDBStore(table)


@pytest.fixture
def calls(store: Any) -> Calls:
    return Calls(store.client)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ds(store: Any, user_id: str, clock: Clock) -> Client:
    service = DataStoreService(store, Settings(auth="none"), clock=clock)
    return Client(service, Identity(user_id, "agent-a"))
