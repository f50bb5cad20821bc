"""The table definition, read from `template.yaml` (the one source of truth).

`agent-datastore admin create` and the test fixtures create the table from
the `AWS::DynamoDB::Table` resource of the SAM template, so the local table
and the deployed one have the same keys, index, TTL attribute and billing.
The template is found through `DATASTORE_TEMPLATE`, else by walking up from
the working directory and from this package (a source checkout). A Lambda
package has no template and never calls this: request handlers never
create tables.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import yaml

logger = logging.getLogger("agent_datastore.dynamodb")

TEMPLATE_NAME = "template.yaml"
TABLE_TYPE = "AWS::DynamoDB::Table"


class _CfnLoader(yaml.SafeLoader):  # type: ignore[misc]
    """SafeLoader that reads CloudFormation short tags (!Ref, !Sub, !GetAtt, ...)."""


def _cfn_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _cfn_tag)


def load_template(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        data = yaml.load(handle, Loader=_CfnLoader)  # a SafeLoader subclass
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a CloudFormation template")
    return data


def find_template() -> Path:
    explicit = os.environ.get("DATASTORE_TEMPLATE")
    if explicit:
        return Path(explicit)
    starts = [Path.cwd(), Path(__file__).resolve().parent]
    for start in starts:
        for folder in [start, *start.parents]:
            candidate = folder / TEMPLATE_NAME
            if candidate.is_file() and "AWS::Serverless" in candidate.read_text(encoding="utf-8", errors="replace"):
                return candidate
    raise FileNotFoundError(
        f"{TEMPLATE_NAME} not found (looked upwards from {Path.cwd()} and from the package); "
        "set DATASTORE_TEMPLATE to its path"
    )


def table_properties(template: dict[str, Any]) -> dict[str, Any]:
    tables = [
        resource.get("Properties", {})
        for resource in template.get("Resources", {}).values()
        if resource.get("Type") == TABLE_TYPE
    ]
    if len(tables) != 1:
        raise ValueError(f"expected exactly one {TABLE_TYPE} in the template, found {len(tables)}")
    properties: dict[str, Any] = tables[0]
    return properties


def create_table_request(properties: dict[str, Any], table_name: str) -> dict[str, Any]:
    """CreateTable parameters from the CloudFormation table properties."""
    request: dict[str, Any] = {
        "TableName": table_name,
        "KeySchema": properties["KeySchema"],
        "AttributeDefinitions": properties["AttributeDefinitions"],
        "BillingMode": properties.get("BillingMode", "PAY_PER_REQUEST"),
    }
    indexes = properties.get("GlobalSecondaryIndexes")
    if indexes:
        request["GlobalSecondaryIndexes"] = [
            {name: index[name] for name in ("IndexName", "KeySchema", "Projection") if name in index}
            for index in indexes
        ]
    stream = properties.get("StreamSpecification")
    if stream:
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    sse = properties.get("SSESpecification")
    if sse and isinstance(sse.get("SSEEnabled"), bool):
        request["SSESpecification"] = {"Enabled": sse["SSEEnabled"]}
    return request


def table_definition(table_name: str, template: Path | None = None) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(CreateTable request, TimeToLiveSpecification or None) for `table_name`."""
    properties = table_properties(load_template(template or find_template()))
    ttl = properties.get("TimeToLiveSpecification")
    return create_table_request(properties, table_name), ttl


def create_table(client: Any, table_name: str) -> None:
    """Create `table_name` from template.yaml's definition and wait until it is active (idempotent)."""
    from botocore.exceptions import ClientError

    request, ttl = table_definition(table_name)
    # The stream only feeds the SAM stack's TtlSweeperFunction, and the stack makes its own table:
    # a table made here would have no consumer (and moto, the test server, copies every stream
    # record on each transaction).
    request.pop("StreamSpecification", None)
    try:
        client.create_table(**request)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceInUseException":
            raise
    client.get_waiter("table_exists").wait(TableName=table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    if ttl and ttl.get("Enabled"):
        current = client.describe_time_to_live(TableName=table_name).get("TimeToLiveDescription", {})
        if current.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
            client.update_time_to_live(
                TableName=table_name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )
    try:
        client.update_continuous_backups(
            TableName=table_name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
    except ClientError as exc:  # local servers may not implement backups
        logger.info("point-in-time recovery not enabled: %s", exc)


def drop_table(client: Any, table_name: str) -> None:
    """Delete `table_name` and wait until it is gone."""
    client.delete_table(TableName=table_name)
    client.get_waiter("table_not_exists").wait(TableName=table_name, WaiterConfig={"Delay": 1})
