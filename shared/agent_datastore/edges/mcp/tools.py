"""One MCP tool per operation of the table, its schemas generated from the request and response models.

No MCP SDK here: a tool is its name, a description written for a model, the
input schema of the operation's request model (the one the OpenAPI document
is built from) and the output schema of its response model. `call_tool`
validates the arguments with that request model (the contract's 4xx, before
anything is sent) and sends the operation through an SDK transport.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from agent_datastore.api.requests import Request
from agent_datastore.api.service import OPERATIONS, Operation
from agent_datastore.core import errors
from agent_datastore.core.jsonutil import dumps
from agent_datastore.core.limits import MAX_BATCH, MAX_PAGE
from agent_datastore_sdk import AsyncTransport, Call
from agent_datastore_sdk import DataStoreError as SdkError

INSTRUCTIONS = (
    "Agent Data Store: persistent key-value storage shared by every agent run of the same user. "
    'Data is grouped in namespaces: a namespace is a name (1-256 bytes of UTF-8, e.g. "cache:github", '
    '"results:job-42"; "default" when none is given) that holds keys, like a folder; it exists while it '
    'holds at least one key. Keys are 1-1024 bytes of UTF-8, any character but NUL ("/", ":", spaces '
    "allowed). Values are any JSON (object, array, string, number, boolean, null) up to 1 MiB as compact "
    "JSON and 64 levels deep. A failed call is a tool error carrying the contract's code and message, e.g. "
    "invalid_key, value_too_large, forbidden, not_a_number, or version_conflict with "
    "details.current_version."
)

_COMMON = ' namespace: a named group of keys (default "default"). Values are JSON, at most 1 MiB each.'

DESCRIPTIONS: dict[str, str] = {
    "get": (
        "Read the value stored under `key` in `namespace`. Answers {found: true, value} or {found: false} "
        "when the key does not exist or has expired (not an error). include_record: true adds the stored "
        "record (metadata, version, timestamps, access count). Counts as a read unless track_access is false."
    ),
    "set": (
        "Store a JSON value under `key` (creates it or replaces the value). ttl_seconds (1-31536000) makes it "
        "expire; metadata, a JSON object of at most 16 KiB, is merged into the stored metadata (a member set "
        "to null is removed). if_version makes it a compare-and-set: the write happens only if the stored "
        "version equals it (0: only if the key does not exist), else the error version_conflict with "
        "details.current_version. Answers {version, created}."
    ),
    "delete": (
        "Delete one key. Answers {deleted: false} when it did not exist. if_version deletes only at that "
        "version (else version_conflict)."
    ),
    "list_keys": (
        f"List the keys of a namespace in UTF-8 byte order, at most `limit` (1-{MAX_PAGE}) per call. When "
        "next_cursor is not null, call again with cursor set to it for the next page. prefix is a literal "
        "prefix (no wildcards). include_values: true also answers each key's value (counts as a read)."
    ),
    "list_namespaces": (
        "List the caller's namespaces that hold at least one key (those starting with `prefix`, when given). "
        "Start here to discover what is stored."
    ),
    "clear": (
        "Delete EVERY key of one namespace; this cannot be undone. Refused unless confirm is true. "
        "Answers {deleted: n}."
    ),
    "get_many": (
        f"Read up to {MAX_BATCH} keys of one namespace in one call. Answers {{values: {{key: value}}, missing: "
        "[keys that do not exist], unprocessed: [keys not read this time]}; call again with the unprocessed "
        "keys when there are any."
    ),
    "set_many": (
        f"Write up to {MAX_BATCH} items ({{key: value}}) to one namespace in one call, with the same metadata "
        "and ttl_seconds for all. Every item is checked first: one bad item rejects the call and nothing is "
        "written. Answers {written, versions: {key: version}}."
    ),
    "increment": (
        "Add `by` (default 1; negative and fractional numbers allowed) to the number stored under `key`, "
        "atomically; a missing key counts as 0. The error not_a_number when the key holds something else. "
        "Answers {value, version}."
    ),
    "stats": (
        "Key count, stored bytes and time of the latest write, per namespace: every namespace, or the one "
        "named. Namespaces without keys are left out."
    ),
}

# A tool argument, not a member of the clear request: the model must say it means it.
CONFIRM = {
    "type": "boolean",
    "const": True,
    "description": "must be true: clear deletes every key of the namespace",
}
RESOURCE_SCHEME = "datastore"
RESOURCE_TEMPLATE = f"{RESOURCE_SCHEME}://namespaces/{{namespace}}"
# clear answers done: false when a namespace is too large for one request; it is repeated up to this often.
MAX_CLEAR_ROUNDS = 1000


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    writes: bool


def _object_schema(schema: dict[str, Any]) -> dict[str, Any]:
    # MCP wants `type: object` at the root; a union of objects (get's answer) says so beside its anyOf.
    schema.setdefault("type", "object")
    return schema


def input_schema(operation: Operation[Request]) -> dict[str, Any]:
    schema = copy.deepcopy(operation.request.model_json_schema(mode="validation"))
    if operation.name == "clear":
        schema["properties"]["confirm"] = dict(CONFIRM)
        schema["required"] = [*schema.get("required", []), "confirm"]
    return _object_schema(schema)


def output_schema(operation: Operation[Request]) -> dict[str, Any]:
    return _object_schema(copy.deepcopy(operation.response.model_json_schema(mode="serialization")))


def tool_specs() -> list[ToolSpec]:
    return [
        ToolSpec(
            name=operation.name,
            description=DESCRIPTIONS[operation.name] + _COMMON,
            input_schema=input_schema(operation),
            output_schema=output_schema(operation),
            writes=operation.writes,
        )
        for operation in OPERATIONS.values()
    ]


def make_call(operation: str, body: dict[str, Any]) -> Call:
    # Safe to repeat after a lost answer unless it adds (increment) or compares (if_version).
    idempotent = operation != "increment" and body.get("if_version") is None
    return Call(operation, body, dumps(body).encode("utf-8"), idempotent)


async def call_tool(transport: AsyncTransport, name: str, arguments: dict[str, Any] | None) -> dict[str, Any]:
    """The operation's 200 body, or a core or SDK `DataStoreError` (the contract's code and message)."""
    operation = OPERATIONS.get(name)
    if operation is None:
        raise errors.UnknownOperation(f"unknown tool {name!r}")
    body = dict(arguments or {})
    if name == "clear" and body.pop("confirm", None) is not True:
        raise errors.InvalidRequest("clear deletes every key of the namespace: call it with confirm: true")
    operation.parse(body)
    if name != "clear":
        return await transport.call(make_call(name, body))
    deleted = 0
    for _ in range(MAX_CLEAR_ROUNDS):
        answer = await transport.call(make_call(name, body))
        deleted += int(answer.get("deleted", 0))
        if answer.get("done", True):
            return {"deleted": deleted}
    return {"deleted": deleted, "done": False}


def error_body(exc: errors.DataStoreError | SdkError) -> dict[str, Any]:
    """The contract's error object (API.md section 6) for a tool error."""
    error: dict[str, Any] = {"code": exc.code, "message": exc.message}
    if exc.details:
        error["details"] = dict(exc.details)
    return {"error": error}


def as_text(body: dict[str, Any]) -> str:
    return json.dumps(body, ensure_ascii=False)


def namespace_uri(namespace: str) -> str:
    return f"{RESOURCE_SCHEME}://namespaces/{quote(namespace, safe='')}"


def namespace_of(uri: str) -> str:
    head = f"{RESOURCE_SCHEME}://namespaces/"
    if not uri.startswith(head) or len(uri) == len(head):
        raise errors.InvalidRequest(f"not a namespace resource: {uri!r} (expected {RESOURCE_TEMPLATE})")
    return unquote(uri[len(head) :])


async def namespace_listing(transport: AsyncTransport, namespace: str) -> dict[str, Any]:
    """What a namespace resource holds: its first page of keys and the cursor of the next."""
    page = await transport.call(make_call("list_keys", {"namespace": namespace, "limit": MAX_PAGE}))
    return {"namespace": namespace, "keys": page["keys"], "next_cursor": page.get("next_cursor")}
