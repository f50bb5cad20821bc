"""Run one built Lambda function the way the python3.12 runtime does, in this (fresh) process.

Usage: python3.12 -I -S lambda_runner.py JOB.json. Started isolated and without `site`, the process
sees the standard library only; the job names what goes on sys.path, in the runtime's order: the
function's folder (/var/task), the layer (/opt/python) and the runtime's own packages (boto3). It
imports the handler, calls it with each event and writes the answers, and every module file it
loaded from anywhere else, to the job's "out" file (stdout is the functions' log).
"""

from __future__ import annotations

import importlib
import json
import sys
import sysconfig
import traceback
from pathlib import Path


class Context:
    """The attributes of the runtime's LambdaContext that a handler may read."""

    def __init__(self, name: str, request_id: str, memory: int, timeout_ms: int) -> None:
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
        self.memory_limit_in_mb = memory
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "2026/12/02/[$LATEST]0123456789abcdef"
        self._timeout_ms = timeout_ms

    def get_remaining_time_in_millis(self) -> int:
        return self._timeout_ms


def main(job_path: str) -> None:
    job = json.loads(Path(job_path).read_text())
    sys.path[:0] = job["path"]
    module_name, attribute = job["handler"].rsplit(".", 1)
    handler = getattr(importlib.import_module(module_name), attribute)
    answers = []
    for number, event in enumerate(job["events"]):
        context = Context(job["name"], f"req-{job['name']}-{number}", job["memory"], job["timeout_ms"])
        try:
            answers.append({"result": handler(event, context)})
        except Exception:  # reported to the test, which fails on it
            answers.append({"error": traceback.format_exc()})
    allowed = [str(Path(path).resolve()) for path in job["path"]]
    stdlib = [str(Path(sysconfig.get_paths()[key]).resolve()) for key in ("stdlib", "platstdlib")]
    foreign = sorted(
        file
        for file in (getattr(module, "__file__", None) for module in list(sys.modules.values()))
        if file
        and file != __file__
        and not any(str(Path(file).resolve()).startswith(root + "/") for root in allowed)
        and not (
            any(str(Path(file).resolve()).startswith(root + "/") for root in stdlib) and "site-packages" not in file
        )
    )
    Path(job["out"]).write_text(json.dumps({"answers": answers, "foreign": foreign}, default=str))


if __name__ == "__main__":
    main(sys.argv[1])
