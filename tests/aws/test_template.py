"""template.yaml: one route and one function per operation, least privilege, one table definition."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agent_datastore.api.service import OPERATIONS
from agent_datastore.stores.dynamodb import codec
from agent_datastore.stores.dynamodb.schema import create_table_request, load_template, table_properties

from .iam import (
    AUTHORIZER,
    NEEDS,
    ROOT,
    TEMPLATE,
    TTL_SWEEPER_NEEDS,
    authorizer_function,
    functions,
    granted,
    statements,
    ttl_sweeper_function,
)


def routes():
    found = []
    for name, function in functions().items():
        for event in function["Properties"].get("Events", {}).values():
            if event["Type"] == "HttpApi":
                found.append((name, event["Properties"]["Method"], event["Properties"]["Path"]))
    return found


def test_every_operation_has_exactly_one_route_and_one_function():
    operations = set(OPERATIONS)
    assert set(NEEDS) == operations  # NEEDS names exactly the table's operations
    paths = [path for _, _, path in routes()]
    assert sorted(paths) == sorted(f"/v1/{operation}" for operation in operations)
    assert all(method == "POST" for _, method, _ in routes())
    by_path = {path: name for name, _, path in routes()}
    assert len(set(by_path.values())) == len(operations) == len(functions())
    for operation in operations:
        function = functions()[by_path[f"/v1/{operation}"]]
        code = function["Properties"]["CodeUri"].rstrip("/")
        assert code == f"functions/aws/{operation}"
        app = (ROOT / code / "app.py").read_text()
        assert f'aws_handler("{operation}")' in app


def test_each_function_is_granted_exactly_what_its_code_needs():
    by_path = {path: name for name, _, path in routes()}
    for operation, needs in NEEDS.items():
        actions, resources = granted(functions()[by_path[f"/v1/{operation}"]])
        assert actions == needs, operation
        # Only the table (and its expiry index): no wildcard resources.
        assert all("*" not in str(resource) for resource in resources), operation
        assert all("DataTable" in str(resource) for resource in resources), operation
    by_name = {path.rsplit("/", 1)[1]: name for path, name in by_path.items()}
    list_keys = granted(functions()[by_name["list_keys"]])[0]
    assert "PutItem" not in list_keys and "DeleteItem" not in list_keys and "Scan" not in list_keys
    assert not any("Scan" in granted(function)[0] for function in functions().values())
    # An operation that does not write is never granted PutItem (it may keep counters and the registry).
    for operation in (name for name, row in OPERATIONS.items() if not row.writes):
        assert "PutItem" not in granted(functions()[by_name[operation]])[0], operation


def test_runtime_architecture_and_table_settings():
    template = load_template(TEMPLATE)
    function_globals = template["Globals"]["Function"]
    assert function_globals["Runtime"] == "python3.12" and function_globals["Architectures"] == ["arm64"]
    table = table_properties(template)
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert table["SSESpecification"]["SSEEnabled"] is True
    api = next(r for r in template["Resources"].values() if r["Type"] == "AWS::Serverless::HttpApi")
    assert api["Properties"]["Auth"]["DefaultAuthorizer"] == "TokenAuthorizer"
    variables = authorizer_function()["Properties"]["Environment"]["Variables"]
    assert variables["DATASTORE_JWT_ISSUER"] == {"Ref": "JwtIssuer"}
    assert variables["DATASTORE_JWT_AUDIENCE"] == {"Fn::Join": [",", {"Ref": "JwtAudience"}]}
    assert variables["DATASTORE_JWKS_URL"] == {"Ref": "JwksUrl"}
    assert {"ThrottlingRateLimit", "ThrottlingBurstLimit"} <= set(api["Properties"]["DefaultRouteSettings"])
    assert {"ApiUrl", "TableName"} <= set(template["Outputs"])


def test_the_lambda_authorizer_guards_every_route():
    template = load_template(TEMPLATE)
    api = next(r for r in template["Resources"].values() if r["Type"] == "AWS::Serverless::HttpApi")
    auth = api["Properties"]["Auth"]
    assert list(auth["Authorizers"]) == [auth["DefaultAuthorizer"]]  # the only one, and the default
    authorizer = auth["Authorizers"][auth["DefaultAuthorizer"]]
    assert authorizer["FunctionArn"] == {"Fn::GetAtt": [AUTHORIZER, "Arn"]}
    assert authorizer["AuthorizerPayloadFormatVersion"] == "2.0" and authorizer["EnableSimpleResponses"] is True
    assert authorizer["EnableFunctionDefaultPermissions"] is True
    assert authorizer["Identity"]["Headers"] == ["Authorization"]
    assert 0 < authorizer["Identity"]["ReauthorizeEvery"] <= 60  # cached per token, briefly
    # No route opts out of it (an Auth block on an event could name another authorizer or none).
    for name, function in functions().items():
        for event in function["Properties"]["Events"].values():
            assert "Auth" not in event["Properties"], name
    function = authorizer_function()
    assert function["Properties"]["CodeUri"] == "functions/aws/authorizer/"
    assert "authorizer_handler()" in (ROOT / "functions/aws/authorizer/app.py").read_text()
    assert "Events" not in function["Properties"]  # not a route itself


def test_the_authorizer_may_only_read_the_token_secret():
    function = authorizer_function()
    assert "Role" not in function["Properties"]  # its own role, made by SAM from the policies below
    assert granted(function) == (set(), [])
    found = statements(function)
    assert found == [
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": {"Ref": "TokenSecretArn"}}
    ]
    policies = function["Properties"]["Policies"]
    assert policies[0]["Fn::If"][0] == "HasTokenSecret" and policies[0]["Fn::If"][2] == {"Ref": "AWS::NoValue"}


def _matches(pattern: Any, data: Any) -> bool:
    """Lambda event-filter matching, for the rules the template uses (exact values, `prefix`)."""
    if isinstance(pattern, dict):
        return isinstance(data, dict) and all(_matches(rule, data.get(name)) for name, rule in pattern.items())
    return any(
        data == rule if not isinstance(rule, dict) else isinstance(data, str) and data.startswith(rule["prefix"])
        for rule in pattern
    )


def test_the_table_stream_feeds_the_ttl_sweeper_only_ttl_removals_of_records(table):
    template = load_template(TEMPLATE)
    assert table_properties(template)["StreamSpecification"] == {"StreamViewType": "OLD_IMAGE"}
    request = create_table_request(table_properties(template), "t1")
    assert request["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "OLD_IMAGE"}
    function = ttl_sweeper_function()["Properties"]
    assert function["CodeUri"] == "functions/aws/ttl_sweeper/"
    assert "ttl_sweeper_handler()" in (ROOT / "functions/aws/ttl_sweeper/app.py").read_text()
    (source,) = function["Events"].values()  # no route: only the stream invokes it
    assert source["Type"] == "DynamoDB"
    mapping = source["Properties"]
    assert mapping["Stream"] == {"Fn::GetAtt": ["DataTable", "StreamArn"]}
    assert mapping["StartingPosition"] == "TRIM_HORIZON"
    assert 1 <= mapping["BatchSize"] <= 1000 and mapping["MaximumBatchingWindowInSeconds"] > 0
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BisectBatchOnFunctionError"] is True
    assert mapping["MaximumRetryAttempts"] > 0 and 0 < mapping["MaximumRecordAgeInSeconds"] <= 86400
    queue = mapping["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"]
    assert queue[1] == "Arn" and template["Resources"][queue[0]]["Type"] == "AWS::SQS::Queue"
    (only,) = mapping["FilterCriteria"]["Filters"]
    pattern = json.loads(only["Pattern"])
    assert pattern["eventName"] == ["REMOVE"]
    assert pattern["userIdentity"] == {"type": ["Service"], "principalId": ["dynamodb.amazonaws.com"]}
    # The filter passes TTL removals of records, and nothing the consumer would ignore.
    from .test_ttl_stream import stream_record

    record = {"pk": {"S": "R#2#u1#ns"}, "sk": {"S": "k"}, "sz": {"N": "3"}}
    assert _matches(pattern, stream_record(table, record))
    assert not _matches(pattern, stream_record(table, record, identity=None))
    assert not _matches(pattern, {**stream_record(table, record), "eventName": "MODIFY"})
    for other in (codec.CHUNK_PREFIX, codec.REGISTRY_PREFIX, codec.REMOVAL_PREFIX):
        assert not _matches(pattern, stream_record(table, {**record, "pk": {"S": other + "2#u1#ns"}}))


def test_the_ttl_sweeper_has_its_own_least_privilege_role():
    function = ttl_sweeper_function()
    assert "Role" not in function["Properties"]  # its own role, made by SAM (plus the stream read it adds)
    actions, resources = granted(function)
    assert actions == TTL_SWEEPER_NEEDS  # test_ttl_stream checks its calls need exactly these
    assert resources and all(resource == {"Fn::GetAtt": ["DataTable", "Arn"]} for resource in resources)
    queue = function["Properties"]["Events"]["TtlRemovals"]["Properties"]["DestinationConfig"]["OnFailure"]
    others = [statement for statement in statements(function) if "dynamodb:UpdateItem" not in statement["Action"]]
    assert others == [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": queue["Destination"]}]


def test_create_table_request_comes_from_the_template():
    request = create_table_request(table_properties(load_template(TEMPLATE)), "t1")
    assert request["TableName"] == "t1"
    assert request["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert [index["IndexName"] for index in request["GlobalSecondaryIndexes"]] == ["expiry"]


def test_created_table_matches_the_template(store):
    description = store.client.describe_table(TableName=store.table)["Table"]
    properties = table_properties(load_template(TEMPLATE))
    assert description["KeySchema"] == properties["KeySchema"]
    assert description["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert [index["IndexName"] for index in description["GlobalSecondaryIndexes"]] == ["expiry"]
    ttl = store.client.describe_time_to_live(TableName=store.table)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "ttl"}
    # The stream and its consumer come only with the SAM stack (docs/aws.md, "Running locally").
    assert "StreamSpecification" not in description


def test_cfn_lint_is_clean():
    lint = Path(sys.executable).with_name("cfn-lint")
    if not lint.exists():
        pytest.skip("cfn-lint is not installed in this environment")
    result = subprocess.run([str(lint), str(TEMPLATE)], capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_batches_the_ttl_sweeper_gives_up_on_raise_an_alarm():
    resources = load_template(TEMPLATE)["Resources"]
    alarm = resources["TtlSweeperFailureAlarm"]["Properties"]
    assert alarm["Namespace"] == "AWS/SQS" and alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["TtlSweeperFailureQueue", "QueueName"]}}
    ]
    assert alarm["Threshold"] == 0 and alarm["ComparisonOperator"] == "GreaterThanThreshold"
