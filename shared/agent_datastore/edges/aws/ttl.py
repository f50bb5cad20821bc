"""The DynamoDB Streams consumer that keeps the namespace registry exact when DynamoDB's TTL deletes records.

DynamoDB's TTL removes expired items in the background, without the store:
nothing would take them out of their namespace's registry entry (key count,
bytes), and a namespace whose keys all expired that way would stay listed.
`functions/aws/ttl_sweeper/app.py` (`handler = ttl_sweeper_handler()`) reads
the table's stream (old images) through an event source mapping whose filter
passes only REMOVE events made by the TTL service (template.yaml). For each,
this module checks the same thing again (a mapping without the filter must
not turn a user's delete into a second decrement) and hands the deleted item
to `DynamoDBStore.forget_ttl_removal`, which decrements its entry exactly once
per stream event, whatever Lambda redelivers (docs/aws.md, "Expiry and the
namespace registry").

The answer is a partial batch response (`ReportBatchItemFailures`): the first
record that could not be applied is reported, and Lambda retries the batch
from it; records before it are done, records after it are retried (and, if
already applied, recognised as replays).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping
from typing import Any

from agent_datastore.core.records import now_ms
from agent_datastore.core.settings import Settings

SERVICE = "agent-datastore"
METRICS_NAMESPACE = "AgentDataStore"
# The identity DynamoDB Streams gives deletions made by the TTL process.
TTL_IDENTITY = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}


def is_ttl_removal(record: Mapping[str, Any]) -> bool:
    """Whether a stream record is an item deleted by DynamoDB's TTL (not by a user, not a write)."""
    identity = record.get("userIdentity")
    return (
        record.get("eventName") == "REMOVE"
        and isinstance(identity, Mapping)
        and all(identity.get(name) == value for name, value in TTL_IDENTITY.items())
    )


def removed_item(record: Mapping[str, Any]) -> dict[str, Any]:
    """The deleted item (attribute-value form) of a REMOVE record; the stream must carry old images."""
    change = record["dynamodb"]
    old_image = change.get("OldImage")
    if not isinstance(old_image, Mapping):
        raise ValueError(f"stream record {record.get('eventID')} has no OldImage (StreamViewType must be OLD_IMAGE)")
    return {**old_image, **change["Keys"]}


def sweep(store: Any, record: Mapping[str, Any], now: int) -> str:
    """Apply one stream record: `applied`, `replayed`, `not_a_record` or `ignored` (not a TTL removal)."""
    if not is_ttl_removal(record):
        return "ignored"
    outcome: str = store.forget_ttl_removal(removed_item(record), record["eventID"], now)
    return outcome


class TtlSweeper:
    """The Lambda handler of the table's stream; the store (a `DynamoDBStore`) is made on first use."""

    def __init__(self, store: Any = None, logger: Any = None) -> None:
        from aws_lambda_powertools import Logger, single_metric
        from aws_lambda_powertools.metrics import MetricUnit

        self.logger = logger or Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or SERVICE)
        self.namespace = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or METRICS_NAMESPACE
        self._store = store
        self._metric, self._count = single_metric, MetricUnit.Count

    def store(self) -> Any:
        if self._store is None:
            from agent_datastore.stores.dynamodb.store import DynamoDBStore

            self._store = DynamoDBStore(Settings.from_env().dynamodb_table)
        return self._store

    def __call__(self, event: Any, context: Any = None) -> dict[str, Any]:
        outcomes: Counter[str] = Counter()
        failures: list[dict[str, str]] = []
        for record in event.get("Records", []):
            try:
                outcomes[sweep(self.store(), record, now_ms())] += 1
            except Exception:
                sequence = record["dynamodb"]["SequenceNumber"]
                self.logger.exception("TTL removal not applied; Lambda retries from it", extra={"sequence": sequence})
                failures.append({"itemIdentifier": sequence})
                break
        self.logger.info("stream batch swept", extra={"outcomes": dict(outcomes), "failed": len(failures)})
        if outcomes["applied"]:
            with self._metric(
                name="TtlRemovals", unit=self._count, value=outcomes["applied"], namespace=self.namespace
            ) as metric:
                metric.add_dimension(name="operation", value="ttl_sweeper")
        return {"batchItemFailures": failures}


def ttl_sweeper_handler(store: Any = None, logger: Any = None) -> TtlSweeper:
    return TtlSweeper(store, logger)
