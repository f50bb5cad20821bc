"""template.yaml as CloudFormation resolves it for given parameter values: conditions, `Fn::If`, `Ref`.

Enough of the intrinsic functions for the template's own use of them; anything else is left as it is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent_datastore.stores.dynamodb.schema import load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
NO_VALUE = object()


def template() -> dict[str, Any]:
    return load_template(TEMPLATE)


def parameters(doc: dict[str, Any], **given: str) -> dict[str, Any]:
    """Every parameter's value: the given one, else its default (the required ones must be given)."""
    values = {}
    for name, spec in doc["Parameters"].items():
        if name in given:
            values[name] = given[name]
        elif "Default" in spec:
            values[name] = spec["Default"]
        if spec["Type"] == "CommaDelimitedList" and isinstance(values.get(name), str):
            values[name] = values[name].split(",")
    unknown = set(given) - set(doc["Parameters"])
    assert not unknown, f"not parameters of the template: {unknown}"
    return values


def conditions(doc: dict[str, Any], values: dict[str, Any]) -> dict[str, bool]:
    def truth(node: Any) -> bool:
        ((name, args),) = node.items()
        if name == "Fn::Not":
            return not truth(args[0])
        if name == "Fn::And":
            return all(truth(arg) for arg in args)
        if name == "Fn::Or":
            return any(truth(arg) for arg in args)
        if name == "Fn::Equals":
            left, right = (resolve(arg, values, {}) for arg in args)
            return str(left) == str(right)
        if name == "Condition":
            return truth(doc["Conditions"][args])
        raise AssertionError(f"a condition function this resolver does not know: {name}")

    return {name: truth(node) for name, node in doc.get("Conditions", {}).items()}


def resolve(node: Any, values: dict[str, Any], truths: dict[str, bool]) -> Any:
    """`node` with references and `Fn::If` resolved; `AWS::NoValue` removes its member.

    `values` holds the parameters, and any resource whose `Ref` the caller wants resolved too.
    """
    if isinstance(node, list):
        items = [resolve(item, values, truths) for item in node]
        return [item for item in items if item is not NO_VALUE]
    if not isinstance(node, dict):
        return node
    if set(node) == {"Fn::If"}:
        condition, yes, no = node["Fn::If"]
        return resolve(yes if truths[condition] else no, values, truths)
    if set(node) == {"Ref"}:
        name = node["Ref"]
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in values:
            return values[name]
        return node  # a resource or a pseudo parameter: left for CloudFormation
    if set(node) == {"Fn::Join"}:
        separator, parts = (resolve(arg, values, truths) for arg in node["Fn::Join"])
        if isinstance(parts, list) and all(isinstance(part, str) for part in parts):
            return separator.join(parts)
    members = {key: resolve(value, values, truths) for key, value in node.items()}
    return {key: value for key, value in members.items() if value is not NO_VALUE}


def resolved(refs: dict[str, str] | None = None, **given: str) -> dict[str, Any]:
    """The whole template for these parameter values (the required ones get stand-ins); `refs` gives
    the physical ids of resources, for their `Ref`."""
    doc = template()
    values = parameters(doc, **{"JwtIssuer": "https://issuer.example", "JwtAudience": "aud", **given})
    truths = conditions(doc, values)
    out = resolve({key: value for key, value in doc.items() if key != "Conditions"}, values | (refs or {}), truths)
    out["Resources"] = {
        name: resource
        for name, resource in out["Resources"].items()
        if "Condition" not in resource or truths[resource["Condition"]]
    }
    return out
