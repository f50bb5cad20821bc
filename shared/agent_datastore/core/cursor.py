"""Opaque, tamper-evident `list_keys` cursors.

A cursor names the last key of a page and carries an HMAC over (user,
namespace, key), so a cursor from another user or namespace, or an edited
one, is refused with `invalid_cursor` instead of silently listing elsewhere.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from agent_datastore.core.errors import InvalidCursor
from agent_datastore.core.records import Scope


def _mac(secret: bytes, scope: Scope, key: str) -> bytes:
    message = b"\x00".join(part.encode("utf-8") for part in (scope.user_id, scope.namespace, key))
    return hmac.new(secret, message, hashlib.sha256).digest()[:16]


def encode(secret: bytes, scope: Scope, key: str) -> str:
    raw = key.encode("utf-8")
    token = base64.urlsafe_b64encode(_mac(secret, scope, key) + raw)
    return token.decode("ascii").rstrip("=")


def decode(secret: bytes, scope: Scope, cursor: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        mac, key = raw[:16], raw[16:].decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        raise InvalidCursor("cursor is not one this service issued") from None
    if len(mac) != 16 or not hmac.compare_digest(mac, _mac(secret, scope, key)):
        raise InvalidCursor("cursor was not issued for this user and namespace")
    return key
