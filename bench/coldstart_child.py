"""One measured process of bench/coldstart.py: `python3.12 -I -S bench/coldstart_child.py SPEC.json`.

Started isolated, it sees the standard library and the folders the spec names, and imports nothing
but `sys`, `json` and `importlib` itself (boto3 and the entry points import both anyway), so the
two sides of a pair pay the same for the harness.
"""

import importlib
import json
import sys

USER = "user-7f3a9c"  # the user of the sample events


class Context:
    """The attributes of the Lambda runtime's context that a handler reads."""

    def __init__(self, name):
        self.function_name = name
        self.aws_request_id = f"req-{name}-cold"
        self.memory_limit_in_mb = 512
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"

    def get_remaining_time_in_millis(self):
        return 29_000


def main(spec):
    sys.path[:0] = spec["path"]
    for name in spec.get("preload", []):
        importlib.import_module(name)
    kind = spec["kind"]
    if kind == "boto3":
        importlib.import_module("boto3")
    elif kind == "getitem":
        boto3 = importlib.import_module("boto3")
        key = {"pk": {"S": f"{USER}#notes"}, "sk": {"S": "greeting"}}
        boto3.client("dynamodb").get_item(TableName=spec["table"], Key=key)
    elif kind == "secret+getitem":
        boto3 = importlib.import_module("boto3")
        boto3.client("secretsmanager").get_secret_value(SecretId=spec["secret"])
        key = {"pk": {"S": f"{USER}#notes"}, "sk": {"S": "greeting"}}
        boto3.client("dynamodb").get_item(TableName=spec["table"], Key=key)
    elif kind == "firestore":
        importlib.import_module("google.cloud.firestore")
    elif kind == "firestore-get":
        firestore = importlib.import_module("google.cloud.firestore")
        firestore.Client().collection(spec["collection"]).document("missing").get()
    elif kind == "import":
        importlib.import_module(spec["module"])
    elif kind == "lambda-event":
        handler = importlib.import_module(spec["module"]).handler
        answer = handler(spec["event"], Context(spec["name"]))
        if answer.get("statusCode") != 200:
            raise SystemExit(f"{spec['name']} answered {answer}")
    elif kind == "gcp-request":
        flask = importlib.import_module("flask")
        entry = importlib.import_module(spec["module"])
        context = flask.Flask("coldstart").test_request_context(
            spec["route"], method="POST", data=spec["body"], headers=spec["headers"]
        )
        with context:
            body, status, _ = getattr(entry, spec["target"])(flask.request)
        if status != 200:
            raise SystemExit(f"{spec['target']} answered {status} {body}")
    else:
        raise SystemExit(f"unknown kind {kind!r}")


def peak_kib():
    """The process's peak resident memory since it started this program (ru_maxrss would also count
    what the parent held before the exec)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


if __name__ == "__main__":
    with open(sys.argv[1]) as spec_file:
        main(json.load(spec_file))
    sys.stderr.write(f"\ncoldstart-peak-kib={peak_kib()}\n")
