"""IAM actions a DynamoDB API call needs, and the template's grants per function."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent_datastore.stores.dynamodb.schema import load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"

# What each operation's code path calls (read from the backend, kept exact by
# test_template: its keys are the operation table's, the template grants exactly
# these, and test_handlers checks that the calls really made by the handlers
# need nothing else).
NEEDS: dict[str, set[str]] = {
    "get": {"GetItem", "UpdateItem", "BatchGetItem"},
    "set": {"GetItem", "UpdateItem", "BatchWriteItem"},
    "delete": {"GetItem", "DeleteItem", "UpdateItem", "BatchWriteItem"},
    "list_keys": {"Query", "GetItem", "BatchGetItem", "UpdateItem"},
    "list_namespaces": {"Query", "GetItem", "DeleteItem", "UpdateItem", "BatchWriteItem"},
    "clear": {"Query", "DeleteItem", "UpdateItem", "BatchWriteItem"},
    "get_many": {"GetItem", "BatchGetItem", "UpdateItem"},
    "set_many": {"BatchGetItem", "UpdateItem", "BatchWriteItem"},
    "increment": {"GetItem", "BatchGetItem", "UpdateItem", "BatchWriteItem"},
    "stats": {"Query", "GetItem", "DeleteItem", "UpdateItem", "BatchWriteItem"},
}

# The table stream's consumer (functions/aws/ttl_sweeper): the marker and registry
# updates of its transaction, and dropping an emptied entry (Query, DeleteItem).
TTL_SWEEPER_NEEDS = {"UpdateItem", "Query", "DeleteItem"}

TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


def iam_actions(operation: str, params: dict[str, Any]) -> set[str]:
    """IAM actions of one API call (a transaction needs those of its parts)."""
    if operation == "TransactWriteItems":
        return {TRANSACT_ACTIONS[kind] for action in params["TransactItems"] for kind in action}
    return {operation}


AUTHORIZER = "AuthorizerFunction"
TTL_SWEEPER = "TtlSweeperFunction"


def functions() -> dict[str, dict[str, Any]]:
    """Serverless functions of the operations by logical id (all but the authorizer and the TTL sweeper)."""
    resources = load_template(TEMPLATE)["Resources"]
    return {
        name: res
        for name, res in resources.items()
        if res["Type"] == "AWS::Serverless::Function" and name not in (AUTHORIZER, TTL_SWEEPER)
    }


def authorizer_function() -> dict[str, Any]:
    return dict(load_template(TEMPLATE)["Resources"][AUTHORIZER])


def ttl_sweeper_function() -> dict[str, Any]:
    return dict(load_template(TEMPLATE)["Resources"][TTL_SWEEPER])


def statements(function: dict[str, Any]) -> list[dict[str, Any]]:
    """Every statement of a function's inline policies, both branches of an `!If` included."""
    found: list[dict[str, Any]] = []
    pending = list(function["Properties"].get("Policies", []))
    while pending:
        policy = pending.pop()
        if isinstance(policy, dict) and "Fn::If" in policy:
            pending.extend(policy["Fn::If"][1:])
        elif isinstance(policy, dict) and "Statement" in policy:
            found.extend(policy["Statement"])
        elif policy != {"Ref": "AWS::NoValue"}:
            raise AssertionError(f"a policy this test cannot read: {policy!r}")
    return found


def granted(function: dict[str, Any]) -> tuple[set[str], list[Any]]:
    """(dynamodb actions, their resources) of a function's inline policies."""
    actions: set[str] = set()
    resources: list[Any] = []
    for policy in function["Properties"].get("Policies", []):
        statements = policy.get("Statement", []) if isinstance(policy, dict) else []
        for statement in statements:
            listed = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            for action in listed:
                if action.startswith("dynamodb:"):
                    actions.add(action.split(":", 1)[1])
                    resources.extend(statement["Resource"])
    return actions, resources
