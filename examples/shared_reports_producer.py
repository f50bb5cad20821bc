"""Producer agent: publishes a report into the `shared-reports` namespace.

Every agent of the same user sees the same data; that is how agents share
work. The report index is updated with optimistic concurrency (`if_version`),
so two producers publishing at once never lose each other's entry.
"""

import json
import sys
from datetime import UTC, datetime

try:
    data_store  # provided by the agent sandbox  # noqa: B018
except NameError:
    from agent_datastore_sdk import DataStore

    data_store = DataStore.from_env()

from agent_datastore_sdk import VersionConflict

reports = data_store.use_namespace("shared-reports")
topic = sys.argv[1] if len(sys.argv) > 1 else "weekly-security"
key = f"report:{topic}"
reports.set(
    key,
    {"topic": topic, "findings": [f"{topic}: finding {i}" for i in range(3)], "severity": "medium"},
    {"published_at": datetime.now(UTC).isoformat(timespec="seconds")},
)

# Add the report to the shared index: read, change, write only if nobody wrote in between.
while True:
    record = reports.get_record("index")
    index = record.value if record else []
    if key not in index:
        index = [*index, key]
    try:
        reports.set("index", index, if_version=record.version if record else 0)
        break
    except VersionConflict:
        continue  # another producer updated the index first: read it again

print(json.dumps({"published": key, "index": index}))
