"""Build results across runs: each run processes the next batch and remembers where it stopped.

An agent run has a time limit; a long job is split over several runs. The
progress marker, the per-file results and a run counter live in the job's
namespace, so the next run (of any agent) continues where the last one left off.
"""

import json

try:
    data_store  # provided by the agent sandbox  # noqa: B018
except NameError:
    from agent_datastore_sdk import DataStore

    data_store = DataStore.from_env()

FILES = [f"src/module_{i:02d}.py" for i in range(25)]
BATCH = 10

results = data_store.use_namespace("results:job-42")
progress = results.get("progress", {"done": 0})
batch = FILES[progress["done"] : progress["done"] + BATCH]

# The "work": one summary per file.
summaries = {f"file:{path}": {"path": path, "lines": 40 + 7 * i} for i, path in enumerate(batch, progress["done"])}
results.set_many(summaries, {"job": "job-42"})
runs = results.increment("runs")
progress["done"] += len(batch)
results.set("progress", progress)

finished = progress["done"] >= len(FILES)
if finished:
    everything = results.get_all("file:")
    results.set("report", {"files": len(everything), "lines": sum(item["lines"] for item in everything.values())})

print(json.dumps({"processed": len(batch), "done": progress["done"], "total": len(FILES), "runs": runs,
                  "finished": finished, "report": results.get("report")}))  # fmt: skip
