"""OpenAPI 3.1 document generated from the operation table: its request and response models."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode

from agent_datastore import __version__
from agent_datastore.api.service import OPERATIONS
from agent_datastore.core import errors

REF = "#/components/schemas/{model}"


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
    }
    paths: dict[str, Any] = {}
    for operation in OPERATIONS.values():
        request = _add(schemas, operation.request, "validation")
        response = _add(schemas, operation.response, "serialization")
        responses: dict[str, Any] = {
            "200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": response}}}}
        }
        for status, codes in _statuses().items():
            responses[str(status)] = {
                "description": ", ".join(sorted(codes)),
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
        paths[f"/v1/{operation.name}"] = {
            "post": {
                "operationId": operation.name,
                "summary": operation.summary,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": request}}},
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


def _add(schemas: dict[str, Any], model: type[BaseModel], mode: JsonSchemaMode) -> str:
    """Put `model` and the models it refers to in `schemas`; its reference."""
    schema = model.model_json_schema(ref_template=REF, mode=mode)
    for name, definition in {**schema.pop("$defs", {}), model.__name__: schema}.items():
        if schemas.setdefault(name, definition) != definition:
            raise ValueError(f"two schemas are named {name!r}")
    return REF.format(model=model.__name__)
