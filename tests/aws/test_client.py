"""The boto3 client: endpoint from the standard variable, lazy, injectable; errors become domain errors."""

from __future__ import annotations

import os

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber

from agent_datastore.core import errors
from agent_datastore.core.records import Scope, Write
from agent_datastore.stores.dynamodb.store import DynamoDBStore
from tests.servers import free_port


def test_endpoint_comes_from_aws_endpoint_url_dynamodb(table):
    store = DynamoDBStore(table)
    assert store.dynamo._client is None  # nothing created before first use
    assert store.client.meta.endpoint_url == os.environ["AWS_ENDPOINT_URL_DYNAMODB"]
    assert store.client.meta.config.retries["mode"] == "standard"


def test_an_unreachable_endpoint_is_backend_unavailable():
    client = boto3.client(
        "dynamodb",
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(retries={"mode": "standard", "max_attempts": 1}, connect_timeout=1),
    )
    store = DynamoDBStore("t", client=client)
    with pytest.raises(errors.BackendUnavailable):
        store.get(Scope("u", "n"), "k", reader="a", now=1)


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("ThrottlingException", 400, errors.Throttled),
        ("ProvisionedThroughputExceededException", 400, errors.Throttled),
        ("RequestLimitExceeded", 400, errors.Throttled),
        ("InternalServerError", 500, errors.BackendUnavailable),
        ("ServiceUnavailable", 503, errors.BackendUnavailable),
        ("ResourceNotFoundException", 400, errors.BackendUnavailable),
        ("AccessDeniedException", 400, errors.BackendUnavailable),
    ],
)
def test_service_errors_become_domain_errors(code, status, expected):
    # A stubbed client stands in for AWS answering with an error the local server cannot produce
    # (a put's first request is its blind transaction).
    client = boto3.client("dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    store = DynamoDBStore("t", client=client)
    with Stubber(client) as stub:
        stub.add_client_error("transact_write_items", service_error_code=code, http_status_code=status)
        with pytest.raises(expected):
            store.put(Scope("u", "n"), "k", Write("1", "a"), 1)


def test_missing_table_is_backend_unavailable(table):
    store = DynamoDBStore(table + "_missing")
    with pytest.raises(errors.BackendUnavailable, match="admin create"):
        store.get(Scope("u", "n"), "k", reader=None, now=1)
