"""Workloads of many writers at once on DynamoDB, shared by tests/aws/test_scale.py and bench/scale_dynamodb.py.

`writers()` is the issue's workload: W writers each setting K distinct keys,
all in one namespace or each in its own, through the service (as a request
would); `increments()` has C clients increment one key. Both return what was
acknowledged and what failed, so the caller can compare `stats` with the truth.
`ConflictServer` is a second test server in the conflict-emulating mode
(tests/servers/dynamodb.py), with the counts it keeps.
"""

from __future__ import annotations

import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from agent_datastore.api.service import DataStoreService, parse_request
from agent_datastore.core.errors import DataStoreError
from agent_datastore.core.identity import Identity
from agent_datastore.core.jsonutil import dumps, utf8_len
from agent_datastore.core.settings import Settings
from agent_datastore.stores.dynamodb.store import DynamoDBStore
from tests.servers import Started
from tests.servers.dynamodb import CONFLICTS_PATH, CREDENTIALS, start_conflicting


def boto_client(endpoint: str) -> Any:
    """A boto3 client for `endpoint`, configured as the store's own (`DynamoClient`)."""
    import boto3
    from botocore.config import Config

    config = Config(
        retries={"mode": "standard", "max_attempts": 4},
        connect_timeout=3,
        read_timeout=10,
        max_pool_connections=32,
        tcp_keepalive=True,
    )
    return boto3.session.Session().client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name=CREDENTIALS["AWS_REGION"],
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        config=config,
    )


class ConflictServer:
    """A DynamoDB test server emulating transaction conflicts (`tail_ms` of lock after each transaction)."""

    def __init__(self, tail_ms: float = 15.0) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="ddb-conflicts-")
        self.started: Started = start_conflicting(Path(self._dir.name), tail_ms)
        self.endpoint = self.started.env["AWS_ENDPOINT_URL_DYNAMODB"]

    def store(self, shards: int | None = None) -> DynamoDBStore:
        """A store on a new table (moto's transactions take longer the more a table holds), its own
        client; `shards`: its registry shards (None: the default)."""
        extra = {} if shards is None else {"registry_shards": shards}
        store = DynamoDBStore(f"scale_{uuid.uuid4().hex[:10]}", client=boto_client(self.endpoint), **extra)
        store.create()
        return store

    def counts(self, *, reset: bool = False) -> dict[str, Any]:
        """Writes applied and refused since the last reset, and the applied writes of the hottest item."""
        url = self.endpoint + CONFLICTS_PATH
        answer = httpx.delete(url) if reset else httpx.get(url)
        answer.raise_for_status()
        counts: dict[str, Any] = answer.json()
        return counts

    def stop(self) -> None:
        self.started.stop()
        self._dir.cleanup()


@dataclass
class Outcome:
    """What a workload did: acknowledged calls, errors by message, its time, the user it wrote as."""

    user_id: str
    acknowledged: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    expected: dict[str, tuple[int, int]] = field(default_factory=dict)  # namespace -> (keys, bytes)


def _run(threads: list[threading.Thread]) -> float:
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def call(store: DynamoDBStore, user_id: str, operation: str, **body: Any) -> dict[str, Any]:
    service = DataStoreService(store, Settings(auth="none"))
    return service.execute(operation, parse_request(operation, body), Identity(user_id, "scale"))


def writers(
    store: DynamoDBStore, *, writers: int = 16, keys: int = 15, one_namespace: bool = True, user_id: str = ""
) -> Outcome:
    """`writers` threads each setting `keys` distinct keys (all different), in one namespace or one each."""
    outcome = Outcome(user_id or f"scale-{uuid.uuid4().hex[:10]}")
    lock = threading.Lock()
    service = DataStoreService(store, Settings(auth="none"))
    identity = Identity(outcome.user_id, "scale")

    def writer(index: int) -> None:
        namespace = "files:repo" if one_namespace else f"files:repo-{index:02d}"
        for key_index in range(keys):
            key, value = f"src/w{index:02d}/file-{key_index:03d}.py", {"summary": f"file {key_index} of {index}"}
            try:
                answer = service.execute(
                    "set", parse_request("set", {"namespace": namespace, "key": key, "value": value}), identity
                )
                assert answer == {"version": 1, "created": True}, answer
            except (DataStoreError, AssertionError) as exc:
                with lock:
                    outcome.errors.append(str(exc))
                continue
            with lock:
                outcome.acknowledged += 1
                count, size = outcome.expected.get(namespace, (0, 0))
                outcome.expected[namespace] = (count + 1, size + utf8_len(dumps(value)) + utf8_len("{}"))

    outcome.seconds = _run([threading.Thread(target=writer, args=(index,)) for index in range(writers)])
    return outcome


def increments(store: DynamoDBStore, *, clients: int = 20, each: int = 50, user_id: str = "") -> Outcome:
    """`clients` threads each incrementing one shared key `each` times."""
    outcome = Outcome(user_id or f"incr-{uuid.uuid4().hex[:10]}")
    lock = threading.Lock()
    service = DataStoreService(store, Settings(auth="none"))

    def client(index: int) -> None:
        identity = Identity(outcome.user_id, f"client-{index}")
        for _ in range(each):
            try:
                service.execute("increment", parse_request("increment", {"key": "counter"}), identity)
            except DataStoreError as exc:
                with lock:
                    outcome.errors.append(str(exc))
                continue
            with lock:
                outcome.acknowledged += 1

    outcome.seconds = _run([threading.Thread(target=client, args=(index,)) for index in range(clients)])
    return outcome


def stats(store: DynamoDBStore, user_id: str) -> dict[str, tuple[int, int]]:
    """namespace -> (keys, bytes), as `stats` answers."""
    rows = call(store, user_id, "stats")["namespaces"]
    return {row["namespace"]: (row["keys"], row["bytes"]) for row in rows}
