"""Edge validation: every limit of API.md section 3 maps to its error code."""

from __future__ import annotations

import pytest

from agent_datastore.api.service import parse_request
from agent_datastore.core import errors, jsonutil

MIB = 1024 * 1024

BAD = [
    # (operation, body, error)
    ("get", {}, errors.InvalidRequest),
    ("get", {"key": ""}, errors.InvalidKey),
    ("get", {"key": "k" * 1025}, errors.InvalidKey),
    ("get", {"key": "é" * 513}, errors.InvalidKey),
    ("get", {"key": "a\x00b"}, errors.InvalidKey),
    ("get", {"key": 5}, errors.InvalidKey),
    ("get", {"key": None}, errors.InvalidKey),
    ("get", {"key": "\ud800"}, errors.InvalidKey),
    ("get", {"key": "k", "namespace": ""}, errors.InvalidNamespace),
    ("get", {"key": "k", "namespace": "n" * 257}, errors.InvalidNamespace),
    ("get", {"key": "k", "namespace": "a\x00"}, errors.InvalidNamespace),
    ("get", {"key": "k", "namespace": 1}, errors.InvalidNamespace),
    ("get", {"key": "k", "include_record": "yes"}, errors.InvalidRequest),
    ("get", {"key": "k", "track_access": 0}, errors.InvalidRequest),
    ("get", {"key": "k", "identity": {"userId": "x"}}, errors.InvalidRequest),
    ("get", {"key": "k", "userId": "x"}, errors.InvalidRequest),
    ("get", {"key": "k", "keyy": "typo"}, errors.InvalidRequest),
    ("set", {"key": "k"}, errors.InvalidRequest),
    ("set", {"key": "k", "value": "x" * (MIB - 1)}, errors.ValueTooLarge),
    ("set", {"key": "k", "value": 1, "metadata": []}, errors.InvalidRequest),
    ("set", {"key": "k", "value": 1, "metadata": "m"}, errors.InvalidRequest),
    ("set", {"key": "k", "value": 1, "metadata": {"m": "x" * 16 * 1024}}, errors.ValueTooLarge),
    ("set", {"key": "k", "value": 1, "ttl_seconds": 0}, errors.InvalidRequest),
    ("set", {"key": "k", "value": 1, "ttl_seconds": 31_536_001}, errors.InvalidRequest),
    ("set", {"key": "k", "value": 1, "ttl_seconds": 2.0}, errors.InvalidRequest),
    ("set", {"key": "k", "value": 1, "ttl_seconds": True}, errors.InvalidRequest),
    ("set", {"key": "k", "value": 1, "ttl_seconds": "60"}, errors.InvalidRequest),
    ("set", {"key": "k", "value": 1, "if_version": -1}, errors.InvalidRequest),
    ("set", {"key": "k", "value": 1, "if_version": 1.0}, errors.InvalidRequest),
    ("set", {"key": "k", "value": 1, "if_version": False}, errors.InvalidRequest),
    ("set", {"key": "k", "value": "\udc00"}, errors.InvalidValue),
    ("set", {"key": "k", "value": {"\ud800": 1}}, errors.InvalidValue),
    ("set", {"key": "k", "value": 1, "metadata": {"m": "\ud800"}}, errors.InvalidValue),
    ("delete", {"key": "k", "if_version": "1"}, errors.InvalidRequest),
    ("list_keys", {"limit": 0}, errors.InvalidRequest),
    ("list_keys", {"limit": 1001}, errors.InvalidRequest),
    ("list_keys", {"limit": 10.0}, errors.InvalidRequest),
    ("list_keys", {"prefix": 1}, errors.InvalidRequest),
    ("list_keys", {"cursor": 1}, errors.InvalidCursor),
    ("list_keys", {"include_values": "true"}, errors.InvalidRequest),
    ("list_namespaces", {"namespace": "x"}, errors.InvalidRequest),
    ("clear", {"namespace": ""}, errors.InvalidNamespace),
    ("get_many", {}, errors.InvalidRequest),
    ("get_many", {"keys": "a"}, errors.InvalidRequest),
    ("get_many", {"keys": [1]}, errors.InvalidKey),
    ("get_many", {"keys": ["a"] * 101}, errors.TooManyKeys),
    ("set_many", {"items": []}, errors.InvalidRequest),
    ("set_many", {"items": {f"k{i}": i for i in range(101)}}, errors.TooManyKeys),
    ("set_many", {"items": {"": 1}}, errors.InvalidKey),
    ("set_many", {"items": {"a": "x" * MIB}}, errors.ValueTooLarge),
    ("set_many", {"items": {"a": 1}, "ttl_seconds": 0}, errors.InvalidRequest),
    ("increment", {"key": "k", "by": "1"}, errors.InvalidRequest),
    ("increment", {"key": "k", "by": True}, errors.InvalidRequest),
    ("increment", {"key": "k", "by": [1]}, errors.InvalidRequest),
    ("stats", {"namespace": ""}, errors.InvalidNamespace),
    ("nope", {}, errors.UnknownOperation),
    ("get", [], errors.InvalidRequest),
    ("get", "k", errors.InvalidRequest),
]


@pytest.mark.parametrize(("operation", "body", "error"), BAD)
def test_bad_requests_get_the_contract_code(operation, body, error):
    with pytest.raises(error):
        parse_request(operation, body)


def test_optional_members_given_as_null_count_as_absent():
    request = parse_request(
        "set", {"key": "k", "value": None, "namespace": None, "metadata": None, "ttl_seconds": None, "if_version": None}
    )
    assert request.namespace == "default" and request.value is None and request.metadata is None
    assert parse_request("list_keys", {"limit": None, "cursor": None, "prefix": None}).limit is None
    assert parse_request("increment", {"key": "k", "by": None}).by is None


def test_limits_are_inclusive():
    parse_request("set", {"key": "k" * 1024, "namespace": "n" * 256, "value": "x" * (MIB - 2)})
    parse_request("set", {"key": "k", "value": 1, "ttl_seconds": 31_536_000, "if_version": 0})
    parse_request("list_keys", {"limit": 1000})
    parse_request("list_keys", {"limit": 1})
    parse_request("get_many", {"keys": [f"k{i}" for i in range(100)]})


def nested(depth: int) -> object:
    value: object = 0
    for _ in range(depth):
        value = [value]
    return value


def test_nesting_depth_counts_inside_the_value():
    assert jsonutil.MAX_DEPTH == 64
    parse_request("set", {"key": "k", "value": nested(64)})
    with pytest.raises(errors.InvalidValue):
        parse_request("set", {"key": "k", "value": nested(65)})
    parse_request("set", {"key": "k", "value": 1, "metadata": {"m": nested(63)}})
    with pytest.raises(errors.InvalidValue):
        parse_request("set", {"key": "k", "value": 1, "metadata": {"m": nested(64)}})


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (b'{"key": "k", "value": NaN}', errors.InvalidValue),
        (b'{"key": "k", "value": Infinity}', errors.InvalidValue),
        (b'{"key": "k", "value": -Infinity}', errors.InvalidValue),
        (b'{"key": "k", "value": 1e400}', errors.InvalidValue),
        (b'{"key": "k", "value": [' * 100_000, errors.InvalidValue),
        (b'{"key": "k", "value": 1' + b"0" * 400 + b"}", errors.InvalidValue),
        (b'{"key": "k", "value": -1' + b"0" * 5000 + b"}", errors.InvalidValue),
        (b'{"key": ', errors.InvalidJson),
        (b"", errors.InvalidJson),
        (b"\xff\xfe", errors.InvalidJson),
        (b"{'key': 'k'}", errors.InvalidJson),
    ],
)
def test_body_parsing(text, error):
    with pytest.raises(error):
        jsonutil.loads(text)


def test_integers_up_to_the_largest_double_are_numbers():
    assert jsonutil.loads(b"1" + b"0" * 308) == 10**308
    with pytest.raises(errors.InvalidValue):
        parse_request("set", {"key": "k", "value": [10**309]})


def test_parsing_keeps_numbers_and_order():
    body = jsonutil.loads(b'{"b": 9007199254740993, "a": 0.1, "c": 1.0}')
    assert list(body) == ["b", "a", "c"]
    assert body["b"] == 9007199254740993 and isinstance(body["c"], float)
    assert jsonutil.dumps(body) == '{"b":9007199254740993,"a":0.1,"c":1.0}'


def test_size_is_measured_on_compact_utf8():
    # 3 bytes per character in UTF-8; compact JSON adds two quotes.
    parse_request("set", {"key": "k", "value": "€" * ((MIB - 2) // 3)})
    with pytest.raises(errors.ValueTooLarge):
        parse_request("set", {"key": "k", "value": "€" * ((MIB - 2) // 3 + 1)})
