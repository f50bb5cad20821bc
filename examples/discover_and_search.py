"""Discover what earlier agents stored, and search it.

An agent that does not know what is in the store lists the namespaces, looks
at their size, and searches keys and values for a term.
"""

import json
import sys

try:
    data_store  # provided by the agent sandbox  # noqa: B018
except NameError:
    from agent_datastore_sdk import DataStore

    data_store = DataStore.from_env()

term = (sys.argv[1] if len(sys.argv) > 1 else "python").lower()
sizes = {row.namespace: row.keys for row in data_store.stats()}

matches = {}
for namespace in data_store.list_namespaces():
    contents = data_store.use_namespace(namespace).get_all(track_access=False)
    hits = [key for key, value in contents.items() if term in key.lower() or term in json.dumps(value).lower()]
    if hits:
        matches[namespace] = hits

print(json.dumps({"term": term, "namespaces": sizes, "matches": matches}))
