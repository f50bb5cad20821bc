"""Strict JSON in, compact JSON out.

The contract wants numbers to round-trip exactly, key order kept, no
non-finite numbers, no lone surrogates, and nesting of at most 64 levels.
"""

from __future__ import annotations

import json
import math
from typing import Any

from agent_datastore.core.errors import InvalidJson, InvalidValue

MAX_DEPTH = 64


class _NonFinite(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    raise _NonFinite(f"{name} is not a finite number")


def _parse_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise _NonFinite(f"{text} is not a finite number")
    return number


def _parse_int(text: str) -> int:
    # An integer literal is still a JSON number: it must fit a finite double.
    # (Checked on the digits first: Python refuses to convert over 4300 of them.)
    if len(text.lstrip("-")) > 309:
        raise _NonFinite(f"{text[:20]}... is too large for a double")
    number = int(text)
    if not is_finite_double(number):
        raise _NonFinite(f"{text[:20]}... is too large for a double")
    return number


# Made once: `json.loads`/`json.dumps` with options build a new decoder/encoder on every call.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_parse_float, parse_int=_parse_int)
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def loads(data: bytes | str) -> Any:
    """Parse a request body. Raises InvalidJson / InvalidValue."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidJson("request body is not valid UTF-8") from exc
    if not data.strip():
        raise InvalidJson("request body is empty: send a JSON object ({} for no arguments)")
    try:
        if data.startswith("\ufeff"):  # as json.loads refuses a str with a byte-order mark
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", data, 0)
        return _DECODER.decode(data)
    except _NonFinite as exc:
        raise InvalidValue(f"numbers must be finite: {exc}") from exc
    except RecursionError as exc:
        raise InvalidValue(f"JSON nesting deeper than {MAX_DEPTH} levels") from exc
    except ValueError as exc:
        raise InvalidJson(f"request body is not valid JSON: {exc}") from exc


def dumps(value: Any) -> str:
    """Compact JSON text, UTF-8 characters kept as they are, key order kept."""
    return _ENCODER.encode(value)


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def check_value(value: Any, what: str = "value") -> None:
    """Depth ≤ 64 (a scalar is 0, `[]` is 1), finite numbers, valid strings."""
    # Iterative walk: a hostile value must not blow the Python stack.
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            depth += 1
            if depth > MAX_DEPTH:
                raise InvalidValue(f"{what} is nested deeper than {MAX_DEPTH} levels")
            if isinstance(item, dict):
                for member, child in item.items():
                    _check_string(member, what)
                    stack.append((child, depth))
            else:
                stack.extend((child, depth) for child in item)
        elif isinstance(item, str):
            _check_string(item, what)
        elif isinstance(item, float) and not math.isfinite(item):
            raise InvalidValue(f"{what} holds a number that is not finite")
        elif isinstance(item, int) and not isinstance(item, bool) and not is_finite_double(item):
            raise InvalidValue(f"{what} holds an integer too large for a double")
        elif item is not None and not isinstance(item, (bool, int, float)):
            raise InvalidValue(f"{what} holds a {type(item).__name__}, which is not JSON")


def _check_string(text: str, what: str) -> None:
    if not isinstance(text, str):
        raise InvalidValue(f"{what} has an object member name that is not a string")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidValue(f"{what} holds a string that is not valid UTF-8 (lone surrogate)") from exc


def is_finite_double(number: int | float) -> bool:
    try:
        return math.isfinite(float(number))
    except OverflowError:
        return False
