"""One request model per operation, validated at the edge (API.md sections 3-4).

Pydantic checks shapes and member types (strict: `2.0` is not an integer, a
boolean is not a number, unknown members are refused). The contract's
specific codes travel as `PydanticCustomError` types and are turned back into
domain errors by `validate`, so every transport reports the same error.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    ValidationError,
)
from pydantic_core import PydanticCustomError

from agent_datastore.core import errors
from agent_datastore.core.jsonutil import check_value, dumps, utf8_len
from agent_datastore.core.limits import (
    MAX_BATCH,
    MAX_KEY_BYTES,
    MAX_METADATA_BYTES,
    MAX_NAMESPACE_BYTES,
    MAX_PAGE,
    MAX_TTL_SECONDS,
    MAX_VALUE_BYTES,
)

DEFAULT_NAMESPACE = "default"


def _fail(error: errors.DataStoreError) -> PydanticCustomError:
    # '{message}' keeps braces in user input out of the template.
    return PydanticCustomError(error.code, "{message}", {"message": error.message})


def _check_name(text: Any, what: str, limit: int, error: type[errors.DataStoreError]) -> str:
    if not isinstance(text, str):
        raise _fail(error(f"{what} must be a string"))
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise _fail(error(f"{what} is not valid UTF-8 (lone surrogate)")) from None
    if not 1 <= size <= limit:
        raise _fail(error(f"{what} must be 1-{limit} bytes of UTF-8, got {size}"))
    if "\x00" in text:
        raise _fail(error(f"{what} must not contain NUL"))
    return text


def check_key(text: Any) -> str:
    return _check_name(text, "key", MAX_KEY_BYTES, errors.InvalidKey)


def check_namespace(text: Any) -> str:
    if text is None:
        return DEFAULT_NAMESPACE
    return _check_name(text, "namespace", MAX_NAMESPACE_BYTES, errors.InvalidNamespace)


def _check_json(value: Any, what: str, limit: int) -> Any:
    """Depth, numbers and strings (400 invalid_value), then compact size (413 value_too_large)."""
    try:
        check_value(value, what)
    except errors.DataStoreError as exc:
        raise _fail(exc) from None
    size = utf8_len(dumps(value))
    if size > limit:
        raise _fail(errors.ValueTooLarge(f"{what} is {size} bytes as compact JSON; the limit is {limit}"))
    return value


def check_json_value(value: Any) -> Any:
    return _check_json(value, "value", MAX_VALUE_BYTES)


def check_metadata(value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _fail(errors.InvalidRequest("metadata must be a JSON object"))
    return _check_json(value, "metadata", MAX_METADATA_BYTES)


def check_keys(value: Any) -> Any:
    if not isinstance(value, list):
        raise _fail(errors.InvalidRequest("keys must be an array of strings"))
    if len(value) > MAX_BATCH:
        raise _fail(errors.TooManyKeys(f"get_many takes at most {MAX_BATCH} keys, got {len(value)}"))
    return [check_key(key) for key in value]


def check_items(value: Any) -> Any:
    if not isinstance(value, dict):
        raise _fail(errors.InvalidRequest("items must be an object of key: value"))
    if len(value) > MAX_BATCH:
        raise _fail(errors.TooManyKeys(f"set_many takes at most {MAX_BATCH} items, got {len(value)}"))
    for key, item in value.items():
        check_key(key)
        check_json_value(item)
    return value


def _check_cursor(value: Any) -> Any:
    if value is not None and not isinstance(value, str):
        raise _fail(errors.InvalidCursor("cursor must be a string from next_cursor"))
    return value


def _check_prefix(value: Any) -> Any:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _fail(errors.InvalidRequest("prefix must be a string"))
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _fail(errors.InvalidRequest("prefix is not valid UTF-8 (lone surrogate)")) from None
    return value


Key = Annotated[str, BeforeValidator(check_key), Field(description="1-1024 bytes of UTF-8, no NUL")]
Namespace = Annotated[
    str,
    BeforeValidator(check_namespace),
    Field(description='1-256 bytes of UTF-8, no NUL; default "default"'),
]
Value = Annotated[Any, BeforeValidator(check_json_value), Field(description="any JSON value, ≤ 1 MiB as compact JSON")]
Metadata = Annotated[
    dict[str, Any] | None,
    BeforeValidator(check_metadata),
    Field(description="JSON object ≤ 16 KiB, merged at the top level; a member given as null is removed"),
]
Prefix = Annotated[str, BeforeValidator(_check_prefix), Field(description="literal prefix of UTF-8 bytes")]
TtlSeconds = Annotated[
    StrictInt | None,
    Field(
        ge=1,
        le=MAX_TTL_SECONDS,
        description="expire this many seconds after this write (1 - 31,536,000); absent: never",
    ),
]
IfVersion = Annotated[StrictInt | None, Field(ge=0, description="write only at this version; 0: only if absent")]
Limit = Annotated[
    StrictInt | None, Field(ge=1, le=MAX_PAGE, description=f"keys per page, 1-{MAX_PAGE}; default {MAX_PAGE}")
]
Cursor = Annotated[
    str | None,
    BeforeValidator(_check_cursor),
    Field(description="the next_cursor of the previous page (same namespace); absent: the first page"),
]
TrackAccess = Annotated[
    StrictBool | None,
    Field(description="false: this read does not count (accessCount and lastAccessedByAgent stay); default true"),
]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class NamespacedRequest(Request):
    namespace: Namespace = DEFAULT_NAMESPACE


RefreshTtl = Annotated[
    StrictBool | None,
    Field(description="move the expiry of each record read that was written with ttl_seconds to now + that TTL"),
]


class GetRequest(NamespacedRequest):
    key: Key
    include_record: Annotated[
        StrictBool | None,
        Field(description="add the full record (metadata, agents, access count, times, version) after this read"),
    ] = None
    track_access: TrackAccess = None
    refresh_ttl: RefreshTtl = None


class SetRequest(NamespacedRequest):
    key: Key
    value: Value
    metadata: Metadata = None
    ttl_seconds: TtlSeconds = None
    if_version: IfVersion = None


class DeleteRequest(NamespacedRequest):
    key: Key
    if_version: IfVersion = None


class ListKeysRequest(NamespacedRequest):
    prefix: Prefix = ""
    limit: Limit = None
    cursor: Cursor = None
    include_values: Annotated[
        StrictBool | None,
        Field(description="each key's value under `values` (counts as a read; a page may then hold fewer keys)"),
    ] = None
    include_records: Annotated[
        StrictBool | None,
        Field(description="each key's full record under `records` (not counted as a read); `values` is left out"),
    ] = None
    track_access: Annotated[
        StrictBool | None,
        Field(description="with include_values: false leaves the reads of the page uncounted; default true"),
    ] = None
    refresh_ttl: Annotated[
        StrictBool | None,
        Field(description="with include_records or include_values: refresh the TTL of each record on the page"),
    ] = None


class ListNamespacesRequest(Request):
    prefix: Prefix = ""


class ClearRequest(NamespacedRequest):
    pass


class GetManyRequest(NamespacedRequest):
    keys: Annotated[list[str], BeforeValidator(check_keys), Field(description="at most 100 keys")]
    track_access: TrackAccess = None
    refresh_ttl: RefreshTtl = None


class SetManyRequest(NamespacedRequest):
    items: Annotated[dict[str, Any], BeforeValidator(check_items), Field(description="at most 100 key: value")]
    metadata: Metadata = None
    ttl_seconds: TtlSeconds = None


class IncrementRequest(NamespacedRequest):
    key: Key
    by: Annotated[
        StrictInt | StrictFloat | None,
        Field(description="number to add (negative subtracts); default 1; a missing key starts at 0"),
    ] = 1
    ttl_seconds: TtlSeconds = None


class StatsRequest(Request):
    namespace: Annotated[
        str | None,
        BeforeValidator(lambda v: v if v is None else check_namespace(v)),
        Field(description="only this namespace; absent: every namespace holding live keys"),
    ] = None


RequestT = TypeVar("RequestT", bound=Request)


def validate(model: type[RequestT], body: Any) -> RequestT:
    """Validate a decoded JSON body into `model`, or raise the contract's error."""
    if not isinstance(body, dict):
        raise errors.InvalidRequest("request body must be a JSON object")
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise _domain_error(exc) from None


def _domain_error(exc: ValidationError) -> errors.DataStoreError:
    problems = exc.errors(include_url=False)
    # The contract's own codes first: they say the most.
    for problem in problems:
        if problem["type"] in errors.ERROR_TYPES:
            return errors.ERROR_TYPES[problem["type"]](problem["msg"])
    problem = problems[0]
    where = ".".join(str(part) for part in problem["loc"])
    if problem["type"] == "extra_forbidden":
        return errors.InvalidRequest(f"unknown member {where!r}")
    if problem["type"] == "missing":
        return errors.InvalidRequest(f"{where} is required")
    return errors.InvalidRequest(f"{where}: {problem['msg']}")
