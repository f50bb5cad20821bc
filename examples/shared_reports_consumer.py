"""Consumer agent: reads every report the producers published in `shared-reports`.

It remembers which reports it has already handled (in its own namespace), so
each run only works on what is new.
"""

import json

try:
    data_store  # provided by the agent sandbox  # noqa: B018
except NameError:
    from agent_datastore_sdk import DataStore

    data_store = DataStore.from_env()

reports = data_store.use_namespace("shared-reports")
state = data_store.use_namespace("consumer-state")

published = reports.list_keys("report:")
seen = set(state.get("seen", []))
new_keys = [key for key in published if key not in seen]
new_reports = reports.get_many(new_keys)
authors = {key: reports.get_record(key, track_access=False).created_by_agent for key in new_reports}
state.set("seen", sorted(seen | set(new_reports)))
findings = sum(len(report["findings"]) for report in new_reports.values())

print(json.dumps({"new": sorted(new_reports), "already_seen": sorted(seen), "findings": findings, "authors": authors}))
