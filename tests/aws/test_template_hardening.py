"""template.yaml's optional hardening: reserved concurrency, customer-managed KMS keys, the stream
consumer's dead-letter queue. Each is a parameter whose empty default deploys what was deployed before."""

from __future__ import annotations

import re

from tests.deploy.cfn import resolved, template

from .iam import AUTHORIZER, TTL_SWEEPER, functions, granted

KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
NEW_PARAMETERS = ("ReservedConcurrency", "TableKmsKeyArn", "LogsKmsKeyArn", "FunctionKmsKeyArn")
LOG_GROUPS = ("FunctionLogGroup", "AccessLogGroup")


def serverless_functions(doc):
    return {name: r for name, r in doc["Resources"].items() if r["Type"] == "AWS::Serverless::Function"}


def test_new_parameters_are_optional_and_default_to_the_previous_shape():
    parameters = template()["Parameters"]
    for name in NEW_PARAMETERS:
        assert parameters[name]["Type"] == "String" and parameters[name]["Default"] == "", name
    doc = resolved()
    function_globals = doc["Globals"]["Function"]
    assert "ReservedConcurrentExecutions" not in function_globals and "KmsKeyArn" not in function_globals
    # The table keeps the AWS managed key (SSEEnabled alone), the log groups their own encryption.
    assert doc["Resources"]["DataTable"]["Properties"]["SSESpecification"] == {"SSEEnabled": True}
    for group in LOG_GROUPS:
        assert "KmsKeyId" not in doc["Resources"][group]["Properties"], group
    assert "TableKeyAccessPolicy" not in doc["Resources"]


def test_reserved_concurrency_applies_to_every_function():
    pattern = template()["Parameters"]["ReservedConcurrency"]["AllowedPattern"]
    assert all(re.fullmatch(pattern, ok) for ok in ("", "0", "25"))
    assert not any(re.fullmatch(pattern, bad) for bad in ("-1", "ten", "2.5"))
    doc = resolved(ReservedConcurrency="25")
    assert doc["Globals"]["Function"]["ReservedConcurrentExecutions"] == "25"
    everyone = serverless_functions(doc)
    assert {AUTHORIZER, TTL_SWEEPER} <= set(everyone) and len(everyone) == 12
    for name, function in everyone.items():  # none sets its own, so each gets the global one
        assert "ReservedConcurrentExecutions" not in function["Properties"], name


def test_customer_managed_keys_encrypt_the_table_the_logs_and_the_environment():
    for name in ("TableKmsKeyArn", "LogsKmsKeyArn", "FunctionKmsKeyArn"):
        pattern = template()["Parameters"][name]["AllowedPattern"]
        assert re.fullmatch(pattern, KEY) and re.fullmatch(pattern, ""), name
        # A key ARN, not an alias: IAM, CloudWatch Logs and Lambda's KmsKeyArn need the key itself.
        assert not re.fullmatch(pattern, "alias/agent-datastore") and not re.fullmatch(pattern, "1234abcd"), name
    table_key, logs_key, function_key = KEY, KEY.replace("1234abcd", "5678efab"), KEY.replace("1234abcd", "9abc0def")
    doc = resolved(TableKmsKeyArn=table_key, LogsKmsKeyArn=logs_key, FunctionKmsKeyArn=function_key)
    sse = doc["Resources"]["DataTable"]["Properties"]["SSESpecification"]
    assert sse == {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": table_key}
    for group in LOG_GROUPS:
        assert doc["Resources"][group]["Properties"]["KmsKeyId"] == logs_key, group
    assert doc["Globals"]["Function"]["KmsKeyArn"] == function_key
    for name, function in serverless_functions(doc).items():
        assert "KmsKeyArn" not in function["Properties"], name


def test_the_table_key_may_be_used_only_through_dynamodb_by_the_functions_that_use_the_table():
    doc = resolved(TableKmsKeyArn=KEY)
    policy = doc["Resources"]["TableKeyAccessPolicy"]
    assert policy["Type"] == "AWS::IAM::ManagedPolicy" and policy["Condition"] == "HasTableKey"
    # Exactly the roles SAM makes for the functions granted table actions, and the stream consumer's.
    users = {name for name, function in functions().items() if granted(function)[0]} | {TTL_SWEEPER}
    assert len(users) == 11 and AUTHORIZER not in users
    assert sorted(role["Ref"] for role in policy["Properties"]["Roles"]) == sorted(f"{name}Role" for name in users)
    for name in users:  # the role is SAM's own (no Role property given)
        assert "Role" not in doc["Resources"][name]["Properties"], name
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow" and statement["Resource"] == KEY
    assert all(action.startswith("kms:") and "*" not in action for action in statement["Action"])
    assert {"kms:Decrypt", "kms:GenerateDataKey"} <= set(statement["Action"])
    assert statement["Condition"] == {
        "StringEquals": {"kms:ViaService": {"Fn::Sub": "dynamodb.${AWS::Region}.amazonaws.com"}}
    }


def test_the_stream_consumer_has_a_dead_letter_queue_besides_its_on_failure_destination():
    sweeper = template()["Resources"][TTL_SWEEPER]["Properties"]
    queue = {"Fn::GetAtt": ["TtlSweeperFailureQueue", "Arn"]}
    assert sweeper["DeadLetterQueue"] == {"Type": "SQS", "TargetArn": queue}
    mapping = sweeper["Events"]["TtlRemovals"]["Properties"]
    assert mapping["DestinationConfig"]["OnFailure"]["Destination"] == queue
    alarm = template()["Resources"]["TtlSweeperFailureAlarm"]["Properties"]
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["TtlSweeperFailureQueue", "QueueName"]}}
    ]
