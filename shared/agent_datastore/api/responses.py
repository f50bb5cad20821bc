"""One response model per operation: the 200 body exactly as the service answers it (API.md section 4).

They describe the answers (the OpenAPI document is generated from them); the
service still builds plain dicts, because validating every answer would cost
latency. tests/unit/test_responses.py runs the answers of every operation
through these models, so the two cannot drift apart.

A member the service leaves out, rather than sending null, is declared with
`left_out`: not required, not nullable.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel
from pydantic.alias_generators import to_camel

# RFC 3339 UTC with milliseconds, as core.records.format_ts writes it.
Timestamp = Annotated[
    str,
    Field(
        pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$",
        examples=["2026-11-30T12:00:00.000Z"],
        json_schema_extra={"format": "date-time"},
    ),
]


def _drop_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def left_out(description: str) -> Any:
    """A member present only when `description` says so; its default never appears in an answer."""
    return Field(default=None, description=description, json_schema_extra=_drop_default)


def _camel_title(name: str, _field: object) -> str:
    return to_camel(name)


class Response(BaseModel):
    # Strict and closed: an answer with a member or a type not described here fails the drift test.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Record(Response):
    """A stored record (API.md section 2)."""

    model_config = ConfigDict(alias_generator=to_camel, field_title_generator=_camel_title)

    user_id: str
    namespace: str
    key: str
    value: Any
    metadata: dict[str, Any]
    created_by_agent: str
    last_accessed_by_agent: str
    access_count: int = Field(ge=0)
    created_at: Timestamp
    updated_at: Timestamp
    version: int = Field(ge=1)
    expires_at: Timestamp | None


class NamespaceStats(Response):
    """One namespace holding live keys: their count, stored bytes and the latest write."""

    model_config = ConfigDict(alias_generator=to_camel, field_title_generator=_camel_title)

    namespace: str
    keys: int = Field(ge=0)
    bytes: int = Field(ge=0)
    updated_at: Timestamp


class GetFound(Response):
    """The key holds a value (a stored null, 0 or "" included)."""

    found: Literal[True]
    value: Any
    record: Record = left_out("with include_record: the record as it stands after this read")


class GetMissing(Response):
    """The key does not exist or has expired (not an error)."""

    found: Literal[False]


class GetResponse(RootModel[GetFound | GetMissing]):
    """`{"found": true, "value": ...}` or `{"found": false}`."""


class SetResponse(Response):
    version: int = Field(ge=1)
    created: bool


class DeleteResponse(Response):
    deleted: bool


class ListKeysResponse(Response):
    keys: list[str]
    next_cursor: str | None = Field(description="null once the listing is exhausted")
    values: dict[str, Any] = left_out("with include_values (and not include_records): the value of each listed key")
    records: dict[str, Record] = left_out("with include_records: the full record of each listed key")


class ListNamespacesResponse(Response):
    namespaces: list[str]


class ClearResponse(Response):
    deleted: int = Field(ge=0)
    done: Literal[False] = left_out("present (false) when keys remain: call clear again; absent means done")


class GetManyResponse(Response):
    values: dict[str, Any]
    missing: list[str]
    unprocessed: list[str] = Field(description="not read this time (response size or backend limits): ask again")


class SetManyResponse(Response):
    written: int = Field(ge=0)
    versions: dict[str, int]


class IncrementResponse(Response):
    value: float
    version: int = Field(ge=1)


class StatsResponse(Response):
    namespaces: list[NamespaceStats]
