"""The OpenAPI document: generated from the operation table, valid, and exact about the answers."""

from __future__ import annotations

from typing import Any

from openapi_spec_validator import validate

from agent_datastore.api import openapi
from agent_datastore.api.service import OPERATIONS
from agent_datastore.core.records import Record

SPEC = openapi.build()
SCHEMAS: dict[str, Any] = SPEC["components"]["schemas"]


def answer_schema(operation: str) -> dict[str, Any]:
    ref = SPEC["paths"][f"/v1/{operation}"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    return dict(SCHEMAS[ref["$ref"].rsplit("/", 1)[1]])


def test_the_document_is_valid_and_has_one_path_per_operation() -> None:
    validate(SPEC)
    assert list(SPEC["paths"]) == [f"/v1/{name}" for name in OPERATIONS]
    for name, operation in OPERATIONS.items():
        post = SPEC["paths"][f"/v1/{name}"]["post"]
        assert post["operationId"] == name and post["summary"] == operation.summary
        body = post["requestBody"]["content"]["application/json"]["schema"]
        assert body == {"$ref": f"#/components/schemas/{operation.request.__name__}"}
        assert answer_schema(name) == SCHEMAS[operation.response.__name__]


def test_answers_are_closed_objects_with_their_required_members() -> None:
    required = {
        "set": ["version", "created"],
        "delete": ["deleted"],
        "list_keys": ["keys", "next_cursor"],
        "list_namespaces": ["namespaces"],
        "clear": ["deleted"],
        "get_many": ["values", "missing", "unprocessed"],
        "set_many": ["written", "versions"],
        "increment": ["value", "version"],
        "stats": ["namespaces"],
    }
    assert set(required) | {"get"} == set(OPERATIONS)
    for name, members in required.items():
        schema = answer_schema(name)
        assert schema["type"] == "object" and schema["additionalProperties"] is False, name
        assert schema["required"] == members, name


def test_members_left_out_of_an_answer_are_optional_and_never_null() -> None:
    found, missing = (SCHEMAS[ref["$ref"].rsplit("/", 1)[1]] for ref in answer_schema("get")["anyOf"])
    assert found["required"] == ["found", "value"] and found["properties"]["found"]["const"] is True
    assert found["properties"]["record"] == {
        "$ref": "#/components/schemas/Record",
        "description": "with include_record: the record as it stands after this read",
    }
    assert missing["required"] == ["found"] and list(missing["properties"]) == ["found"]
    assert missing["properties"]["found"]["const"] is False
    values = answer_schema("list_keys")["properties"]["values"]
    assert values["type"] == "object" and "default" not in values
    done = answer_schema("clear")["properties"]["done"]
    assert done["const"] is False and "default" not in done
    next_cursor = answer_schema("list_keys")["properties"]["next_cursor"]
    assert next_cursor["anyOf"] == [{"type": "string"}, {"type": "null"}]


def test_record_and_namespace_stats() -> None:
    record = SCHEMAS["Record"]
    # Every member the core writes, in its order, each one required (expiresAt too, as null).
    assert record["required"] == list(Record("u", "n", "k", "1").to_dict()) == list(record["properties"])
    assert record["additionalProperties"] is False
    timestamp, null = record["properties"]["expiresAt"]["anyOf"]
    assert null == {"type": "null"}
    assert timestamp["type"] == "string" and timestamp["format"] == "date-time"
    assert record["properties"]["createdAt"]["format"] == "date-time"
    assert record["properties"]["value"] == {"title": "value"}  # any JSON value
    stats = SCHEMAS["NamespaceStats"]
    assert stats["required"] == ["namespace", "keys", "bytes", "updatedAt"]
    rows = answer_schema("stats")["properties"]["namespaces"]
    assert rows["items"] == {"$ref": "#/components/schemas/NamespaceStats"}
