"""DynamoDB against the local DynamoDB-protocol server (tests/servers/dynamodb.py).

The table is created through `DynamoDBStore.create()`, i.e. from the
definition in template.yaml, under a unique name, and deleted afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

from agent_datastore.stores.base import Store


def available() -> str | None:
    if not os.environ.get("AWS_ENDPOINT_URL_DYNAMODB"):
        return "AWS_ENDPOINT_URL_DYNAMODB is not set (run under `python -m tests.servers.run --only dynamodb`)"
    try:
        import boto3  # noqa: F401
    except ImportError:
        return "boto3 is not installed"
    return None


def make_store() -> Iterator[Store]:
    from agent_datastore.stores.dynamodb.store import DynamoDBStore

    store = DynamoDBStore(f"contract_{uuid.uuid4().hex[:12]}")
    store.create()
    try:
        yield store
    finally:
        store.drop()
        store.close()
