"""OpenAPI 3.1 document generated from the operation table: its request and response models."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode

from agent_datastore import __version__
from agent_datastore.api.service import OPERATIONS
from agent_datastore.core import errors

REF = "#/components/schemas/{model}"

AGENT_HEADER = {
    "name": "X-Agent-Name",
    "in": "header",
    "required": False,
    "schema": {"type": "string"},
    "description": "The calling agent (default `api`).",
}
USER_HEADER = {
    "name": "X-User-Id",
    "in": "header",
    "required": False,
    "schema": {"type": "string"},
    "description": "The user to act as (default `local`). Honoured only because authentication is off.",
}
# The identity headers each DATASTORE_AUTH mode reads (API.md section 5): with auth off no
# credential is asked for; a capability token names its own agent; behind a gateway, the agent
# of a platform JWT is X-Agent-Name.
IDENTITY_HEADERS: dict[str, list[dict[str, Any]]] = {
    "none": [USER_HEADER, AGENT_HEADER],
    "token": [],
    "gateway": [AGENT_HEADER],
}


def _statuses() -> dict[int, list[str]]:
    by_status: dict[int, list[str]] = {}
    for code, cls in errors.ERROR_TYPES.items():
        by_status.setdefault(cls.status, []).append(code)
    return dict(sorted(by_status.items()))


def build(auth: str = "gateway") -> dict[str, Any]:
    """The document of a server running with DATASTORE_AUTH=`auth`: its security and identity headers."""
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
        parameters = IDENTITY_HEADERS[auth]
        paths[f"/v1/{operation.name}"] = {
            "post": {
                "operationId": operation.name,
                "summary": operation.summary,
                **({"parameters": parameters} if parameters else {}),
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": request}}},
                },
                "responses": responses,
            }
        }
    security: dict[str, Any] = {}
    components: dict[str, Any] = {"schemas": schemas}
    if auth != "none":
        components["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
        security["security"] = [{"bearer": []}]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Agent Data Store",
            "version": __version__,
            "description": "Persistent key-value storage for AI agents. Every operation is POST /v1/<operation>.",
        },
        "servers": [{"url": "/"}],
        "components": components,
        **security,
        "paths": paths,
    }


def _add(schemas: dict[str, Any], model: type[BaseModel], mode: JsonSchemaMode) -> str:
    """Put `model` and the models it refers to in `schemas`; its reference."""
    schema = model.model_json_schema(ref_template=REF, mode=mode)
    for name, definition in {**schema.pop("$defs", {}), model.__name__: schema}.items():
        if schemas.setdefault(name, definition) != definition:
            raise ValueError(f"two schemas are named {name!r}")
    return REF.format(model=model.__name__)
