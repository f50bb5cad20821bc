"""The SDK's own copies of the core's tables (it installs without the core) are held equal to them.

Error codes and statuses, the limits, and the operations: a change to one
side that the other does not follow fails here.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import agent_datastore_sdk
from agent_datastore.api.requests import DEFAULT_NAMESPACE
from agent_datastore.api.service import OPERATIONS
from agent_datastore.core import errors as core_errors
from agent_datastore.core import jsonutil, limits
from agent_datastore.stores.memory import MemoryStore
from agent_datastore_sdk import AsyncDataStore, DataStore, _ops
from agent_datastore_sdk import errors as sdk_errors
from agent_datastore_sdk.transports.base import Call
from agent_datastore_sdk.transports.inprocess import InProcessTransport

# -- errors --------------------------------------------------------------------


def test_every_core_error_code_is_an_sdk_class_with_the_same_code_and_status_and_back() -> None:
    assert list(sdk_errors.ERROR_TYPES) == list(core_errors.ERROR_TYPES)
    for code, core_class in core_errors.ERROR_TYPES.items():
        sdk_class = sdk_errors.ERROR_TYPES[code]
        assert (sdk_class.__name__, sdk_class.code, sdk_class.status) == (core_class.__name__, code, core_class.status)
        assert getattr(agent_datastore_sdk, sdk_class.__name__) is sdk_class
        assert sdk_class.__name__ in agent_datastore_sdk.__all__
        # The errors a server asks to retry later are the ones the SDK retries.
        assert issubclass(sdk_class, sdk_errors.RetryableError) == hasattr(core_class, "retry_after"), code


def core_error(core_class: type[core_errors.DataStoreError]) -> core_errors.DataStoreError:
    if core_class is core_errors.VersionConflict:
        return core_errors.VersionConflict("k", 3, 2)
    return core_class(f"a {core_class.code} error", {"detail": 1})


@pytest.mark.parametrize("code", list(core_errors.ERROR_TYPES))
def test_an_error_body_of_the_core_raises_the_sdk_class_of_its_code(code: str) -> None:
    error = core_error(core_errors.ERROR_TYPES[code])
    raised = sdk_errors.error_from_response(error.status, error.body("req-1"), retry_after=2)
    assert type(raised) is sdk_errors.ERROR_TYPES[code]
    assert (raised.code, raised.status, raised.message) == (code, error.status, error.message)
    assert (raised.details, raised.request_id) == (error.details, "req-1")


# -- limits --------------------------------------------------------------------

# The SDK's own: how long get_many waits for a backend that reads nothing.
SDK_ONLY = {"MAX_STALLED_ROUNDS"}


def test_every_sdk_limit_equals_the_cores() -> None:
    core = {name: value for name, value in vars(limits).items() if name.startswith("MAX_")}
    core["MAX_DEPTH"] = jsonutil.MAX_DEPTH
    sdk = {name: value for name, value in vars(_ops).items() if name.startswith("MAX_") and name not in SDK_ONLY}
    assert {"MAX_BATCH", "MAX_KEY_BYTES", "MAX_VALUE_BYTES", "MAX_BODY_BYTES", "MAX_DEPTH", "MAX_PAGE"} <= set(sdk)
    assert sdk == {name: core[name] for name in sdk}
    assert _ops.DEFAULT_NAMESPACE == DEFAULT_NAMESPACE


# -- operations ----------------------------------------------------------------

# One call of the SDK method named after each operation.
CALLS: dict[str, tuple[Any, ...]] = {
    "get": ("k",),
    "set": ("k", 1),
    "delete": ("k",),
    "list_keys": (),
    "list_namespaces": (),
    "clear": (),
    "get_many": (["k"],),
    "set_many": ({"k": 1},),
    "increment": ("n",),
    "stats": (),
}


class Recording(InProcessTransport):
    """The core in this process, remembering which operations were called."""

    def __init__(self) -> None:
        super().__init__(store=MemoryStore())
        self.operations: list[str] = []

    def call(self, call: Call) -> dict[str, Any]:
        self.operations.append(call.operation)
        return super().call(call)


def test_the_sdk_has_a_method_for_every_operation() -> None:
    assert set(CALLS) == set(OPERATIONS)
    transport = Recording()
    client = DataStore(transport=transport)
    for operation, arguments in CALLS.items():
        transport.operations.clear()
        getattr(client, operation)(*arguments)
        assert transport.operations == [operation]


def test_the_async_sdk_has_a_method_for_every_operation() -> None:
    transport = Recording()
    client = AsyncDataStore(transport=transport)

    async def run() -> None:
        for operation, arguments in CALLS.items():
            transport.operations.clear()
            await getattr(client, operation)(*arguments)
            assert transport.operations == [operation]

    asyncio.run(run())
