"""Direct invocation: a real boto3 Lambda client, the real per-operation handlers.

The boto3 client serialises `Invoke` as it would for AWS; the test hook hands
the exact payload bytes to `agent_datastore.edges.aws.handler.make_handler(operation)`
as the Lambda runtime would, and botocore parses the answer as AWS's.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from agent_datastore.api.app import Api
from agent_datastore.stores.memory import MemoryStore
from agent_datastore_sdk import (
    AsyncDataStore,
    BackendUnavailable,
    DataStore,
    Forbidden,
    InternalError,
    InvalidRequest,
    OutcomeUnknown,
    RetryPolicy,
    Throttled,
    UnknownOperation,
    VersionConflict,
)
from agent_datastore_sdk.transports.aws import LambdaTransport
from tests.sdk.conftest import handler_invoker, lambda_client

FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.02, rng=random.Random(3))


@pytest.fixture
def api() -> Api:
    return Api(store=MemoryStore())


def test_payload_is_the_request_plus_identity(api: Api) -> None:
    harness = lambda_client(handler_invoker(api, prefix="prod-ds-"))
    store = DataStore(
        transport=LambdaTransport("u1", "indexer", function_prefix="prod-ds-", client=harness.client),
        namespace="files:org/repo",
    )
    assert store.set("README.md", {"lines": 3}, {"lang": "md"}) == 1
    name, payload = harness.payloads[0]
    assert name == "prod-ds-set"
    assert json.loads(payload) == {
        "identity": {"userId": "u1", "agentName": "indexer"},
        "namespace": "files:org/repo",
        "key": "README.md",
        "value": {"lines": 3},
        "metadata": {"lang": "md"},
    }
    record = store.get_record("README.md")
    assert record is not None and record.user_id == "u1" and record.created_by_agent == "indexer"
    assert [n for n, _ in harness.payloads] == ["prod-ds-set", "prod-ds-get"]


def test_errors_in_the_answer_map_to_exceptions(api: Api) -> None:
    harness = lambda_client(handler_invoker(api))
    store = DataStore(transport=LambdaTransport("u1", client=harness.client))
    store.set("k", 1)
    with pytest.raises(VersionConflict) as conflict:
        store.set("k", 2, if_version=0)
    assert conflict.value.current_version == 1 and conflict.value.request_id
    scoped = DataStore(transport=LambdaTransport("u1", ns_prefix="team:", read_only=True, client=harness.client))
    with pytest.raises(Forbidden):
        scoped.get("k")
    with pytest.raises(Forbidden):
        scoped.use_namespace("team:a").set("k", 1)
    assert scoped.use_namespace("team:a").get("k", "none") == "none"
    identity = json.loads(harness.payloads[-1][1])["identity"]
    assert identity == {"userId": "u1", "agentName": "api", "nsPrefix": "team:", "readOnly": True}


def test_a_missing_identity_is_refused_by_the_handler(api: Api) -> None:
    invoke = handler_invoker(api)
    _, answer = invoke("agent-datastore-get", json.dumps({"key": "k"}).encode())
    result = json.loads(answer)
    assert result["statusCode"] == 401 and result["body"]["error"]["code"] == "unauthorized"


def scripted(*answers: tuple[dict[str, str], Any]) -> Any:
    calls: list[str] = []

    def invoke(name: str, payload: bytes) -> tuple[dict[str, str], bytes]:
        headers, body = answers[min(len(calls), len(answers) - 1)]
        calls.append(name)
        return headers, body if isinstance(body, bytes) else json.dumps(body).encode()

    return invoke, calls


def store_with(invoke: Any) -> DataStore:
    return DataStore(transport=LambdaTransport("u", client=lambda_client(invoke).client, retry=FAST))


def test_function_errors_map_to_exceptions() -> None:
    unhandled = ({"x-amz-function-error": "Unhandled"}, {"errorMessage": "boom", "errorType": "KeyError"})
    invoke, calls = scripted(unhandled)
    with pytest.raises(InternalError, match="KeyError: boom"):
        store_with(invoke).get("k")
    assert len(calls) == 1
    timed_out = (
        {"x-amz-function-error": "Unhandled"},
        {"errorMessage": "Task timed out after 30.00 seconds", "errorType": "Sandbox.Timedout"},
    )
    invoke, calls = scripted(timed_out)
    with pytest.raises(OutcomeUnknown):
        store_with(invoke).increment("n")
    assert len(calls) == 1  # an increment that may have run is not repeated
    invoke, calls = scripted(timed_out, ({}, {"statusCode": 200, "body": {"found": True, "value": 5}}))
    assert store_with(invoke).get("k") == 5
    assert len(calls) == 2  # a read is


def test_503_in_the_answer_is_retried_only_when_idempotent() -> None:
    unavailable = ({}, {"statusCode": 503, "body": {"error": {"code": "backend_unavailable", "message": "m"}}})
    ok = ({}, {"statusCode": 200, "body": {"value": 2, "version": 2}})
    invoke, calls = scripted(unavailable, ok)
    with pytest.raises(BackendUnavailable):
        store_with(invoke).increment("n")
    assert len(calls) == 1
    invoke, calls = scripted(unavailable, ({}, {"statusCode": 200, "body": {"version": 2, "created": False}}))
    assert store_with(invoke).set("k", 1) == 2
    assert len(calls) == 2
    throttled = ({}, {"statusCode": 429, "body": {"error": {"code": "throttled", "message": "m"}}})
    invoke, calls = scripted(throttled, ok)
    assert store_with(invoke).increment("n") == 2
    assert len(calls) == 2


def test_aws_client_errors_map_to_exceptions() -> None:
    from botocore.exceptions import ClientError

    def raising(code: str, status: int) -> Any:
        def invoke(name: str, payload: bytes) -> tuple[dict[str, str], bytes]:
            raise ClientError({"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
                              "Invoke")  # fmt: skip

        return invoke

    with pytest.raises(Throttled):
        store_with(raising("TooManyRequestsException", 429)).get("k")
    with pytest.raises(UnknownOperation):
        store_with(raising("ResourceNotFoundException", 404)).get("k")
    with pytest.raises(Forbidden):
        store_with(raising("AccessDeniedException", 403)).get("k")
    bad = ({}, {"statusCode": 400, "body": {"error": {"code": "invalid_request", "message": "x"}}})
    with pytest.raises(InvalidRequest):
        store_with(scripted(bad)[0]).get("k")


def test_async_client_over_direct_invocation(api: Api) -> None:
    import asyncio

    harness = lambda_client(handler_invoker(api))

    async def scenario() -> Any:
        async with AsyncDataStore(transport=LambdaTransport("u9", "async", client=harness.client)) as store:
            await store.set("k", [1])
            cache = store.use_namespace("cache")
            await cache.set_many({"a": 1, "b": 2})
            keys = [key async for key in cache.iter_keys(page_size=1)]
            return await store.get("k"), keys, await cache.get_all(), await store.list_namespaces()

    assert asyncio.run(scenario()) == ([1], ["a", "b"], {"a": 1, "b": 2}, ["cache", "default"])


def test_an_unreachable_lambda_endpoint_names_the_url_and_the_function() -> None:
    import boto3
    from botocore.config import Config

    from agent_datastore_sdk import ConnectionFailed
    from tests.servers import free_port

    endpoint = f"http://127.0.0.1:{free_port()}"
    client = boto3.client(
        "lambda",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        endpoint_url=endpoint,
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=2),
    )
    transport = LambdaTransport("u", client=client, function_prefix="prod-ds-", retry=FAST)
    with DataStore(transport=transport) as store, pytest.raises(ConnectionFailed) as raised:
        store.get("k")
    assert endpoint in str(raised.value) and "prod-ds-get" in str(raised.value)
