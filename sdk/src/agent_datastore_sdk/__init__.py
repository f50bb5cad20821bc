"""Agent Data Store SDK: the `data_store` object for agent code, and clients for services.

from agent_datastore_sdk import DataStore
data_store = DataStore.from_env()       # DATASTORE_URL, DATASTORE_TOKEN
data_store.set("my-key", {"result": "some data"})
"""

__version__ = "0.1.0"

from ._ops import NamespaceStats, Record
from .client import AsyncDataStore, DataStore
from .errors import (
    BackendUnavailable,
    ConnectionFailed,
    DataStoreError,
    Forbidden,
    InternalError,
    InvalidCursor,
    InvalidJson,
    InvalidKey,
    InvalidNamespace,
    InvalidRequest,
    InvalidValue,
    MethodNotAllowed,
    NotANumber,
    OutcomeUnknown,
    PayloadTooLarge,
    RetryableError,
    Throttled,
    TooManyKeys,
    TransportError,
    Unauthorized,
    UnknownOperation,
    ValueTooLarge,
    VersionConflict,
)
from .transports.base import AsyncTransport, Call, RetryPolicy, Transport

__all__ = [
    "AsyncDataStore",
    "AsyncTransport",
    "BackendUnavailable",
    "Call",
    "ConnectionFailed",
    "DataStore",
    "DataStoreError",
    "Forbidden",
    "InternalError",
    "InvalidCursor",
    "InvalidJson",
    "InvalidKey",
    "InvalidNamespace",
    "InvalidRequest",
    "InvalidValue",
    "MethodNotAllowed",
    "NamespaceStats",
    "NotANumber",
    "OutcomeUnknown",
    "PayloadTooLarge",
    "Record",
    "RetryPolicy",
    "RetryableError",
    "Throttled",
    "TooManyKeys",
    "Transport",
    "TransportError",
    "Unauthorized",
    "UnknownOperation",
    "ValueTooLarge",
    "VersionConflict",
]
