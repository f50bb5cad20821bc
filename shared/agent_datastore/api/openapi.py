"""OpenAPI 3.1 document generated from the request models."""

from __future__ import annotations

from typing import Any

from agent_datastore import __version__
from agent_datastore.api import models
from agent_datastore.core import errors

SUMMARIES = {
    "get": "Read one value (counts as a read unless track_access is false)",
    "set": "Write one value; if_version makes it a compare-and-set",
    "delete": "Delete one key",
    "list_keys": "List keys in UTF-8 byte order, paged with next_cursor",
    "list_namespaces": "List the caller's namespaces that hold live keys",
    "clear": "Delete every key of a namespace (repeat while done is false)",
    "get_many": "Read up to 100 keys",
    "set_many": "Write up to 100 items",
    "increment": "Add to a number atomically",
    "stats": "Key count, bytes and last write per namespace",
}

RESPONSES: dict[str, dict[str, Any]] = {
    "get": {"found": {"type": "boolean"}, "value": {}, "record": {"$ref": "#/components/schemas/Record"}},
    "set": {"version": {"type": "integer"}, "created": {"type": "boolean"}},
    "delete": {"deleted": {"type": "boolean"}},
    "list_keys": {
        "keys": {"type": "array", "items": {"type": "string"}},
        "next_cursor": {"type": ["string", "null"]},
        "values": {"type": "object"},
    },
    "list_namespaces": {"namespaces": {"type": "array", "items": {"type": "string"}}},
    "clear": {"deleted": {"type": "integer"}, "done": {"type": "boolean", "default": True}},
    "get_many": {
        "values": {"type": "object"},
        "missing": {"type": "array", "items": {"type": "string"}},
        "unprocessed": {"type": "array", "items": {"type": "string"}},
    },
    "set_many": {
        "written": {"type": "integer"},
        "versions": {"type": "object", "additionalProperties": {"type": "integer"}},
    },
    "increment": {"value": {"type": "number"}, "version": {"type": "integer"}},
    "stats": {"namespaces": {"type": "array", "items": {"$ref": "#/components/schemas/NamespaceStats"}}},
}

TIMESTAMP = {"type": "string", "format": "date-time", "examples": ["2026-11-30T12:00:00.000Z"]}


def _statuses() -> dict[int, list[str]]:
    by_status: dict[int, list[str]] = {}
    for code, cls in errors.ERROR_TYPES.items():
        by_status.setdefault(cls.status, []).append(code)
    return dict(sorted(by_status.items()))


def build() -> dict[str, Any]:
    schemas: dict[str, Any] = {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message", "request_id"],
                    "properties": {
                        "code": {"type": "string", "enum": sorted(errors.ERROR_TYPES)},
                        "message": {"type": "string"},
                        "details": {"type": "object"},
                        "request_id": {"type": "string"},
                    },
                }
            },
        },
        "Record": {
            "type": "object",
            "properties": {
                "userId": {"type": "string"},
                "namespace": {"type": "string"},
                "key": {"type": "string"},
                "value": {},
                "metadata": {"type": "object"},
                "createdByAgent": {"type": "string"},
                "lastAccessedByAgent": {"type": "string"},
                "accessCount": {"type": "integer", "minimum": 0},
                "createdAt": TIMESTAMP,
                "updatedAt": TIMESTAMP,
                "version": {"type": "integer", "minimum": 1},
                "expiresAt": {"anyOf": [TIMESTAMP, {"type": "null"}]},
            },
        },
        "NamespaceStats": {
            "type": "object",
            "properties": {
                "namespace": {"type": "string"},
                "keys": {"type": "integer"},
                "bytes": {"type": "integer"},
                "updatedAt": TIMESTAMP,
            },
        },
    }
    paths: dict[str, Any] = {}
    for operation, model in models.REQUEST_MODELS.items():
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        name = f"{model.__name__}"
        schemas[name] = schema
        responses: dict[str, Any] = {
            "200": {
                "description": "OK",
                "content": {"application/json": {"schema": {"type": "object", "properties": RESPONSES[operation]}}},
            }
        }
        for status, codes in _statuses().items():
            responses[str(status)] = {
                "description": ", ".join(sorted(codes)),
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
        paths[f"/v1/{operation}"] = {
            "post": {
                "operationId": operation,
                "summary": SUMMARIES[operation],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}},
                },
                "responses": responses,
            }
        }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Agent Data Store",
            "version": __version__,
            "description": "Persistent key-value storage for AI agents. Every operation is POST /v1/<operation>.",
        },
        "servers": [{"url": "/"}],
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
        "security": [{"bearer": []}],
        "paths": paths,
    }
