"""Cache an expensive operation, shared by every agent run of the same user.

The first run computes and stores the result in the `api-cache` namespace;
every later run (any agent of this user) reads it back instead, until the
entry expires an hour later.
"""

import json
import sys
import time

try:
    data_store  # provided by the agent sandbox  # noqa: B018
except NameError:  # run by hand: DATASTORE_URL (the sandbox proxy) and, without a proxy, DATASTORE_TOKEN
    from agent_datastore_sdk import DataStore

    data_store = DataStore.from_env()

cache = data_store.use_namespace("api-cache")


def analyse_repository(repo):
    """Stands in for a slow, rate-limited API call."""
    time.sleep(0.5)
    return {"repo": repo, "languages": {"python": 81.5, "shell": 18.5}, "open_issues": 12}


def cached_analysis(repo):
    key = f"analysis:{repo}"
    cached = cache.get(key)
    if cached is not None:
        return cached, True
    result = analyse_repository(repo)
    cache.set(key, result, {"source": "github", "repo": repo}, ttl=3600)
    return result, False


repo = sys.argv[1] if len(sys.argv) > 1 else "my-org/my-repo"
started = time.monotonic()
result, hit = cached_analysis(repo)
print(json.dumps({"repo": repo, "cache_hit": hit, "seconds": round(time.monotonic() - started, 3), "result": result}))
