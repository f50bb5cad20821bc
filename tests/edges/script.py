"""What the corpus asks: the requests of every edge, in order (record_corpus.py sends them and keeps the answers).

One suite of operation requests (`SUITE`) goes through the edges, each step as
that edge carries it (an HTTP API v2 event, a direct invocation, a Flask request
with the gateway's claims, a socket to the local server or the proxy): all of it
through one edge, a part of it through the others (`LEVELS`). Then each edge gets
the requests only it can receive: its credentials, methods, paths and malformed
transports.

Users, agents, tokens and the order are fixed, and each edge starts on a fresh
store, so the answers are the same on every run.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from tests.edges.drivers import (
    DIRECT_CALLER,
    FAR,
    FOREIGN_SECRET,
    JWT_ISSUER,
    PAST,
    ROOT,
    SANDBOX_GATEWAY,
    SECRET,
    SECRET_K2,
    U1,
    U2,
    UTTL,
    capability_token,
    compact,
    google_id_token,
    platform_jwt,
    repeat,
    userinfo,
)

MIB = 1024 * 1024
MAX_BODY = 6 * MIB
OPERATIONS = [
    "get",
    "set",
    "delete",
    "list_keys",
    "list_namespaces",
    "clear",
    "get_many",
    "set_many",
    "increment",
    "stats",
]
# How much of the suite each edge carries: 0 every step, 1 the steps marked C or M, 2 the steps marked M.
# The whole suite needs one edge (the service behind every edge is the same); the others need enough of it
# to show that their transport carries every operation, every kind of body and every kind of caller.
LEVELS = {
    "aws-http": 0,
    "aws-direct": 1,
    "gcp-gateway": 1,
    "server-none": 1,
    "server-token": 1,
    "proxy": 1,
    "gcp-direct": 2,
    "gcp-sandbox": 2,
}


class Raw(str):
    """A request body sent as this exact text (not valid JSON, or not an object): HTTP edges only."""


@dataclass(frozen=True)
class Big:
    """A long string value, `unit * count`, kept short in the corpus as a `$repeat`."""

    unit: str
    count: int


@dataclass
class Step:
    name: str
    op: str
    body: Any
    who: str = "u1"
    tier: int = 0  # S: 0, through the level-0 edge only; C: 1, also through level-1 edges; M: 2, through every edge
    after: tuple[str, float] | None = None
    tags: set[str] = field(default_factory=set)


def S(name: str, op: str, body: Any, who: str = "u1", **extra: Any) -> Step:
    return Step(name, op, body, who, 0, **extra)


def C(name: str, op: str, body: Any, who: str = "u1", **extra: Any) -> Step:
    return Step(name, op, body, who, 1, **extra)


def M(name: str, op: str, body: Any, who: str = "u1", **extra: Any) -> Step:
    return Step(name, op, body, who, 2, **extra)


def nested(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = [value]
    return value


SUITE: list[Step] = [
    # A key that expires after 1 s, for a user nothing else lists: looked at again at the very end.
    S("set/ttl-1s", "set", {"namespace": "ephemeral", "key": "short", "value": 1, "ttl_seconds": 1}, "ttl"),
    # -- set / get -------------------------------------------------------------------------
    M(
        "set/create-with-metadata",
        "set",
        {
            "namespace": "notes",
            "key": "greeting",
            "value": {"text": "hello", "lang": "en"},
            "metadata": {"source": "corpus", "tag": "a"},
        },
    ),
    M("get/include-record", "get", {"namespace": "notes", "key": "greeting", "include_record": True}),
    C(
        "get/track-access-false",
        "get",
        {"namespace": "notes", "key": "greeting", "include_record": True, "track_access": False},
    ),
    S("get/plain", "get", {"namespace": "notes", "key": "greeting"}),
    C("get/missing-key", "get", {"namespace": "notes", "key": "nope"}),
    S("get/default-namespace", "get", {"key": "greeting"}),
    S("get/namespace-null-is-default", "get", {"namespace": None, "key": "greeting"}),
    C(
        "set/overwrite-merges-metadata",
        "set",
        {"namespace": "notes", "key": "greeting", "value": "v2", "metadata": {"tag": None, "extra": 1}},
    ),
    C("get/after-merge", "get", {"namespace": "notes", "key": "greeting", "include_record": True}),
    C("set/overwrite-keeps-metadata", "set", {"namespace": "notes", "key": "greeting", "value": ["v3"]}),
    S(
        "get/after-keep",
        "get",
        {"namespace": "notes", "key": "greeting", "include_record": True, "track_access": False},
    ),
    C("set/if-version-match", "set", {"namespace": "notes", "key": "greeting", "value": "v4", "if_version": 3}),
    C("set/if-version-stale", "set", {"namespace": "notes", "key": "greeting", "value": "v5", "if_version": 2}),
    S("set/if-version-0-existing", "set", {"namespace": "notes", "key": "greeting", "value": "v5", "if_version": 0}),
    S("set/if-version-0-absent", "set", {"namespace": "notes", "key": "fresh", "value": "new", "if_version": 0}),
    S("set/if-version-absent-key", "set", {"namespace": "notes", "key": "ghost", "value": 1, "if_version": 5}),
    S("set/if-version-negative", "set", {"key": "x", "value": 1, "if_version": -1}),
    S("set/if-version-string", "set", {"key": "x", "value": 1, "if_version": "1"}),
    S("set/if-version-float", "set", {"key": "x", "value": 1, "if_version": 1.0}),
    S("set/create-drops-null-metadata", "set", {"key": "m", "value": 1, "metadata": {"a": None, "b": 2}}),
    S("get/create-drops-null-metadata", "get", {"key": "m", "include_record": True}),
    S("set/ttl", "set", {"key": "t", "value": "soon", "ttl_seconds": 3600}),
    S("get/ttl-record", "get", {"key": "t", "include_record": True}),
    S("set/overwrite-drops-ttl", "set", {"key": "t", "value": "later"}),
    S("get/ttl-dropped", "get", {"key": "t", "include_record": True}),
    S("set/ttl-max", "set", {"key": "tmax", "value": 1, "ttl_seconds": 31536000}),
    C("set/ttl-zero", "set", {"key": "x", "value": 1, "ttl_seconds": 0}),
    S("set/ttl-too-long", "set", {"key": "x", "value": 1, "ttl_seconds": 31536001}),
    S("set/ttl-float", "set", {"key": "x", "value": 1, "ttl_seconds": 2.0}),
    S("set/ttl-bool", "set", {"key": "x", "value": 1, "ttl_seconds": True}),
    S("set/ttl-null-is-absent", "set", {"key": "tnull", "value": 1, "ttl_seconds": None}),
    S("set/stored-null", "set", {"key": "null", "value": None}),
    S("get/stored-null", "get", {"key": "null"}),
    S("set/stored-zero", "set", {"key": "zero", "value": 0}),
    S("get/stored-zero", "get", {"key": "zero"}),
    S("set/stored-empty-string", "set", {"key": "empty", "value": ""}),
    S("get/stored-empty-string", "get", {"key": "empty"}),
    C("set/unicode-names", "set", {"namespace": "ns:🙂 é/x", "key": "ключ/🔑 #%:a b", "value": "ünïcødé ✓"}),
    C("get/unicode-names", "get", {"namespace": "ns:🙂 é/x", "key": "ключ/🔑 #%:a b", "include_record": True}),
    C(
        "set/numbers-and-key-order",
        "set",
        {
            "key": "nums",
            "value": {
                "z": 1,
                "a": [9007199254740993, 0.1, -0.0, 1e300, 12345678901234567890, -5],
                "m": {"b": True, "a": False},
            },
        },
    ),
    C("get/numbers-and-key-order", "get", {"key": "nums"}),
    S("set/depth-64", "set", {"key": "deep", "value": nested(64)}),
    S("set/depth-65", "set", {"key": "deep", "value": nested(65)}),
    S("set/key-1024-bytes", "set", {"namespace": "long", "key": "k" * 1024, "value": 1}),
    M("set/key-empty", "set", {"key": "", "value": 1}),
    S("set/key-1025-bytes", "set", {"key": "k" * 1025, "value": 1}),
    S("set/key-multibyte-too-long", "set", {"key": "é" * 513, "value": 1}),
    S("set/key-nul", "set", {"key": "a\u0000b", "value": 1}),
    S("set/key-not-string", "set", {"key": 123, "value": 1}),
    C("set/key-missing", "set", {"value": 1}),
    C("set/key-lone-surrogate", "set", Raw('{"key":"\\ud800","value":1}')),
    C("set/namespace-empty", "set", {"namespace": "", "key": "x", "value": 1}),
    S("set/namespace-257-bytes", "set", {"namespace": "n" * 257, "key": "x", "value": 1}),
    S("set/namespace-nul", "set", {"namespace": "a\u0000", "key": "x", "value": 1}),
    S("set/namespace-not-string", "set", {"namespace": ["a"], "key": "x", "value": 1}),
    C("set/value-missing", "set", {"key": "x"}),
    C("set/value-nan", "set", Raw('{"key":"x","value":NaN}')),
    S("set/value-minus-infinity", "set", Raw('{"key":"x","value":-Infinity}')),
    S("set/value-1e400", "set", Raw('{"key":"x","value":1e400}')),
    S("set/value-400-digits", "set", Raw('{"key":"x","value":' + "9" * 400 + "}")),
    S("set/value-lone-surrogate", "set", Raw('{"key":"x","value":"\\udc00"}')),
    S("set/value-exactly-1MiB", "set", {"namespace": "big", "key": "full", "value": Big("x", MIB - 2)}),
    M("set/value-too-large", "set", {"namespace": "big", "key": "over", "value": Big("x", MIB - 1)}),
    S("set/metadata-not-object", "set", {"key": "x", "value": 1, "metadata": [1]}),
    S("set/metadata-too-large", "set", {"key": "x", "value": 1, "metadata": {"blob": Big("m", 16 * 1024)}}),
    S("set/metadata-9KB", "set", {"namespace": "meta", "key": "mm", "value": 1, "metadata": {"a": Big("a", 9000)}}),
    S(
        "set/metadata-too-large-after-merge",
        "set",
        {"namespace": "meta", "key": "mm", "value": 2, "metadata": {"b": Big("b", 9000)}},
    ),
    S("stats/nothing-written-after-merge", "stats", {"namespace": "meta"}),
    M("set/unknown-member", "set", {"key": "x", "value": 1, "valu": 2}),
    C(
        "set/identity-member",
        "set",
        {"key": "x", "value": 1, "identity": {"userId": U2, "agentName": "x"}},
        tags={"http"},
    ),
    S("set/userId-member", "set", {"key": "x", "value": 1, "userId": U2}),
    C("set/body-array", "set", Raw("[1,2]")),
    S("set/body-null", "set", Raw("null")),
    S("set/body-string", "set", Raw('"x"')),
    C("set/body-empty", "set", Raw("")),
    C("set/body-truncated", "set", Raw('{"key":')),
    S("set/body-trailing-garbage", "set", Raw('{"key":"x","value":1} x')),
    S("set/body-bom", "set", Raw('\ufeff{"key":"x","value":1}')),
    S("set/duplicate-members", "set", Raw('{"key":"dup","value":1,"value":2}')),
    S("get/duplicate-members", "get", {"key": "dup"}),
    M("set/payload-over-6MiB", "set", {"key": "x", "value": Big("p", MAX_BODY)}),
    C("set/payload-over-6MiB-multibyte", "set", {"key": "x", "value": Big("é", 3_200_000)}),
    C("get/key-missing", "get", {}),
    S("get/include-record-not-bool", "get", {"key": "x", "include_record": "yes"}),
    S("get/track-access-not-bool", "get", {"key": "x", "track_access": 1}),
    S("get/refresh-ttl", "get", {"key": "t", "refresh_ttl": True}),
    C("get/unknown-member", "get", {"key": "x", "foo": 1}),
    S("get/key-empty", "get", {"key": ""}),
    # -- delete ----------------------------------------------------------------------------
    M("set/delete-me", "set", {"key": "del", "value": 1}),
    M("delete/existing", "delete", {"key": "del"}),
    C("delete/again", "delete", {"key": "del"}),
    C("set/versioned-delete", "set", {"key": "dv", "value": 1}),
    C("delete/if-version-stale", "delete", {"key": "dv", "if_version": 2}),
    S("delete/if-version-0-existing", "delete", {"key": "dv", "if_version": 0}),
    S("delete/if-version-match", "delete", {"key": "dv", "if_version": 1}),
    S("delete/if-version-0-absent", "delete", {"key": "dv", "if_version": 0}),
    S("delete/if-version-absent", "delete", {"key": "dv", "if_version": 3}),
    S("delete/key-empty", "delete", {"key": ""}),
    S("delete/unknown-member", "delete", {"key": "x", "value": 1}),
    # -- list_keys -------------------------------------------------------------------------
    M("set_many/pages", "set_many", {"namespace": "pages", "items": {"e": 5, "a": 1, "c": 3, "b": 2, "d": 4}}),
    M("list_keys/page-1", "list_keys", {"namespace": "pages", "limit": 2}),
    M("list_keys/page-2", "list_keys", {"namespace": "pages", "limit": 2, "cursor": "<<cursor>>"}),
    C("list_keys/page-3", "list_keys", {"namespace": "pages", "limit": 2, "cursor": "<<cursor>>"}),
    S("list_keys/all", "list_keys", {"namespace": "pages"}),
    S("list_keys/prefix", "list_keys", {"namespace": "pages", "prefix": "c"}),
    C("list_keys/include-values", "list_keys", {"namespace": "pages", "limit": 3, "include_values": True}),
    S(
        "list_keys/include-values-next",
        "list_keys",
        {"namespace": "pages", "limit": 3, "include_values": True, "cursor": "<<cursor>>"},
    ),
    S(
        "list_keys/include-values-no-track",
        "list_keys",
        {"namespace": "pages", "include_values": True, "track_access": False},
    ),
    S("get/access-count-after-listing", "get", {"namespace": "pages", "key": "a", "include_record": True}),
    C("list_keys/cursor-for-reuse", "list_keys", {"namespace": "pages", "limit": 1}),
    C("list_keys/cursor-other-namespace", "list_keys", {"namespace": "notes", "cursor": "<<cursor>>"}),
    S("list_keys/cursor-other-user", "list_keys", {"namespace": "pages", "cursor": "<<cursor>>"}, "u2"),
    C("list_keys/cursor-forged", "list_keys", {"namespace": "pages", "cursor": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAYQ"}),
    S("list_keys/cursor-not-base64", "list_keys", {"namespace": "pages", "cursor": "!!!"}),
    S("list_keys/cursor-number", "list_keys", {"namespace": "pages", "cursor": 5}),
    S("list_keys/cursor-null", "list_keys", {"namespace": "pages", "cursor": None, "limit": 1}),
    C("list_keys/limit-0", "list_keys", {"namespace": "pages", "limit": 0}),
    S("list_keys/limit-1001", "list_keys", {"namespace": "pages", "limit": 1001}),
    S("list_keys/limit-1000", "list_keys", {"namespace": "pages", "limit": 1000}),
    S("list_keys/limit-float", "list_keys", {"namespace": "pages", "limit": 2.0}),
    S("list_keys/limit-string", "list_keys", {"namespace": "pages", "limit": "2"}),
    S("list_keys/include-records", "list_keys", {"namespace": "pages", "include_records": True}),
    S("list_keys/prefix-not-string", "list_keys", {"namespace": "pages", "prefix": 1}),
    S("list_keys/prefix-1025-bytes", "list_keys", {"namespace": "pages", "prefix": "p" * 1025}),
    S("set_many/literal-prefix", "set_many", {"namespace": "lit", "items": {"a%": 1, "a%b": 2, "ab": 3, "a_": 4}}),
    S("list_keys/literal-prefix", "list_keys", {"namespace": "lit", "prefix": "a%"}),
    C(
        "set_many/byte-order",
        "set_many",
        {"namespace": "order", "items": {"a": 1, "B": 2, "é": 3, "z": 4, "~": 5, "😀": 6, "\ue000": 7, "a\u0001": 8}},
    ),
    C("list_keys/byte-order", "list_keys", {"namespace": "order"}),
    S("list_keys/empty-namespace", "list_keys", {"namespace": "nothing-here"}),
    S("list_keys/unknown-member", "list_keys", {"namespace": "pages", "offset": 2}),
    S("list_keys/namespace-empty", "list_keys", {"namespace": ""}),
    # -- get_many --------------------------------------------------------------------------
    M("get_many/mixed", "get_many", {"namespace": "pages", "keys": ["a", "zz", "b", "a"]}),
    S("get_many/track-access-false", "get_many", {"namespace": "pages", "keys": ["c"], "track_access": False}),
    S("get_many/empty", "get_many", {"namespace": "pages", "keys": []}),
    S("get_many/100-keys", "get_many", {"namespace": "pages", "keys": [f"k{i}" for i in range(100)]}),
    C("get_many/101-keys", "get_many", {"namespace": "pages", "keys": [f"k{i}" for i in range(101)]}),
    S("get_many/101-duplicates", "get_many", {"namespace": "pages", "keys": ["a"] * 101}),
    C("get_many/one-invalid-key", "get_many", {"namespace": "pages", "keys": ["a", ""]}),
    S("get_many/key-not-string", "get_many", {"namespace": "pages", "keys": [1]}),
    S("get_many/keys-not-array", "get_many", {"namespace": "pages", "keys": "a"}),
    S("get_many/keys-missing", "get_many", {"namespace": "pages"}),
    S("get_many/refresh-ttl", "get_many", {"namespace": "pages", "keys": ["a"], "refresh_ttl": True}),
    S("get_many/other-user", "get_many", {"namespace": "pages", "keys": ["a"]}, "u2"),
    # -- set_many --------------------------------------------------------------------------
    C(
        "set_many/metadata-and-ttl",
        "set_many",
        {"namespace": "batch", "items": {"x": 1, "y": {"n": 2}}, "metadata": {"m": 1}, "ttl_seconds": 600},
    ),
    C("get/set-many-record", "get", {"namespace": "batch", "key": "y", "include_record": True}),
    S("set_many/overwrite", "set_many", {"namespace": "batch", "items": {"x": 10, "y": 20}}),
    S("set_many/empty", "set_many", {"namespace": "batch", "items": {}}),
    C("set_many/101-items", "set_many", {"namespace": "batch", "items": {f"k{i}": i for i in range(101)}}),
    S("set_many/one-invalid-key", "set_many", {"namespace": "batch", "items": {"ok": 1, "": 2}}),
    S("get_many/nothing-written", "get_many", {"namespace": "batch", "keys": ["ok", "ok2"]}),
    S("set_many/one-too-large", "set_many", {"namespace": "batch", "items": {"ok2": 1, "big": Big("x", MIB - 1)}}),
    S("set_many/items-not-object", "set_many", {"namespace": "batch", "items": [1]}),
    S("set_many/items-missing", "set_many", {"namespace": "batch"}),
    S("set_many/unknown-member", "set_many", {"namespace": "batch", "items": {}, "if_version": 1}),
    S("set_many/metadata-not-object", "set_many", {"namespace": "batch", "items": {"a": 1}, "metadata": "m"}),
    # -- increment -------------------------------------------------------------------------
    M("increment/create", "increment", {"namespace": "counters", "key": "c"}),
    C("increment/by-5", "increment", {"namespace": "counters", "key": "c", "by": 5}),
    S("increment/by-float", "increment", {"namespace": "counters", "key": "c", "by": 2.5}),
    S("increment/by-negative", "increment", {"namespace": "counters", "key": "c", "by": -10}),
    S("increment/by-null", "increment", {"namespace": "counters", "key": "c", "by": None}),
    C("increment/by-string", "increment", {"namespace": "counters", "key": "c", "by": "1"}),
    S("increment/by-bool", "increment", {"namespace": "counters", "key": "c", "by": True}),
    S("increment/by-1e400", "increment", Raw('{"namespace":"counters","key":"c","by":1e400}')),
    M("increment/not-a-number", "increment", {"namespace": "notes", "key": "greeting"}),
    S("increment/stored-null", "increment", {"key": "null"}),
    S("set/near-max-double", "set", {"namespace": "counters", "key": "huge", "value": 1.7976931348623157e308}),
    S("increment/overflow", "increment", {"namespace": "counters", "key": "huge", "by": 1.7976931348623157e308}),
    S("set/2-to-the-53", "set", {"namespace": "counters", "key": "bi", "value": 9007199254740992}),
    S("increment/past-2-to-the-53", "increment", {"namespace": "counters", "key": "bi"}),
    S("increment/with-ttl", "increment", {"namespace": "counters", "key": "tc", "ttl_seconds": 60}),
    S("get/increment-record", "get", {"namespace": "counters", "key": "tc", "include_record": True}),
    S("increment/key-empty", "increment", {"namespace": "counters", "key": ""}),
    S("increment/unknown-member", "increment", {"namespace": "counters", "key": "c", "value": 1}),
    # -- stats, list_namespaces ---------------------------------------------------------------
    M("stats/all", "stats", {}),
    C("stats/one", "stats", {"namespace": "notes"}),
    S("stats/absent-namespace", "stats", {"namespace": "never-written"}),
    S("stats/namespace-null", "stats", {"namespace": None}),
    S("stats/namespace-empty", "stats", {"namespace": ""}),
    S("stats/unknown-member", "stats", {"prefix": "n"}),
    M("list_namespaces/all", "list_namespaces", {}),
    S("list_namespaces/prefix", "list_namespaces", {"prefix": "n"}),
    S("list_namespaces/prefix-257-bytes", "list_namespaces", {"prefix": "n" * 257}),
    S("list_namespaces/prefix-not-string", "list_namespaces", {"prefix": ["n"]}),
    C("list_namespaces/namespace-member", "list_namespaces", {"namespace": "notes"}),
    # -- clear -----------------------------------------------------------------------------
    M("clear/pages", "clear", {"namespace": "pages"}),
    S("clear/again", "clear", {"namespace": "pages"}),
    S("list_namespaces/after-clear", "list_namespaces", {}),
    S("stats/cleared-namespace", "stats", {"namespace": "pages"}),
    S("clear/namespace-empty", "clear", {"namespace": ""}),
    S("clear/unknown-member", "clear", {"namespace": "pages", "key": "a"}),
    # -- other users -----------------------------------------------------------------------
    M("get/other-user", "get", {"namespace": "notes", "key": "greeting"}, "u2"),
    C("list_namespaces/other-user", "list_namespaces", {}, "u2"),
    S("stats/other-user", "stats", {}, "u2"),
    S("set/other-user-same-key", "set", {"namespace": "notes", "key": "greeting", "value": "mine"}, "u2"),
    S("get/other-user-record", "get", {"namespace": "notes", "key": "greeting", "include_record": True}, "u2"),
    # -- a credential confined to namespaces starting with "job-" -------------------------------
    C("set/scoped-inside", "set", {"namespace": "job-1", "key": "k", "value": 1}, "scoped"),
    C("get/scoped-inside", "get", {"namespace": "job-1", "key": "k", "include_record": True}, "scoped"),
    M("set/scoped-outside", "set", {"namespace": "notes", "key": "k", "value": 1}, "scoped"),
    S("get/scoped-outside", "get", {"namespace": "notes", "key": "greeting"}, "scoped"),
    S("get/scoped-default-namespace", "get", {"key": "k"}, "scoped"),
    S("list_keys/scoped-outside", "list_keys", {"namespace": "notes"}, "scoped"),
    S("get_many/scoped-outside", "get_many", {"namespace": "notes", "keys": ["greeting"]}, "scoped"),
    S("increment/scoped-inside", "increment", {"namespace": "job-2", "key": "n"}, "scoped"),
    C("list_namespaces/scoped", "list_namespaces", {}, "scoped"),
    S("stats/scoped", "stats", {}, "scoped"),
    S("stats/scoped-outside", "stats", {"namespace": "notes"}, "scoped"),
    S("clear/scoped-outside", "clear", {"namespace": "notes"}, "scoped"),
    S("delete/scoped-outside", "delete", {"namespace": "notes", "key": "greeting"}, "scoped"),
    # -- a read-only credential ------------------------------------------------------------
    C("get/read-only", "get", {"namespace": "notes", "key": "greeting", "include_record": True}, "readonly"),
    S("list_keys/read-only", "list_keys", {"namespace": "notes"}, "readonly"),
    S("get_many/read-only", "get_many", {"namespace": "notes", "keys": ["greeting", "fresh"]}, "readonly"),
    M("set/read-only", "set", {"namespace": "notes", "key": "ro", "value": 1}, "readonly"),
    S("delete/read-only", "delete", {"namespace": "notes", "key": "greeting"}, "readonly"),
    S("increment/read-only", "increment", {"namespace": "counters", "key": "c"}, "readonly"),
    S("set_many/read-only", "set_many", {"namespace": "notes", "items": {"a": 1}}, "readonly"),
    S("clear/read-only", "clear", {"namespace": "notes"}, "readonly"),
    # -- the end: clear without a namespace, the 1 s TTL has run out --------------------------------
    S("clear/default-namespace", "clear", {}),
    S("list_keys/after-clearing-default", "list_keys", {}),
    S("get/ttl-expired", "get", {"namespace": "ephemeral", "key": "short"}, "ttl", after=("set/ttl-1s", 1.5)),
    S("list_keys/ttl-expired", "list_keys", {"namespace": "ephemeral"}, "ttl"),
    S("list_namespaces/ttl-expired", "list_namespaces", {}, "ttl"),
    S("stats/ttl-expired", "stats", {}, "ttl"),
]

# -- bodies -------------------------------------------------------------------------------------

BIG_MARK = "\u0007BIG\u0007"


def _find_big(value: Any) -> Big | None:
    if isinstance(value, Big):
        return value
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    for item in items:
        found = _find_big(item)
        if found:
            return found
    return None


def _marked(value: Any) -> Any:
    if isinstance(value, Big):
        return BIG_MARK
    if isinstance(value, dict):
        return {name: _marked(item) for name, item in value.items()}
    if isinstance(value, list):
        return [_marked(item) for item in value]
    return value


def text_body(body: Any) -> Any:
    """The body as JSON text (compact, UTF-8 as is), a `$repeat` if it holds a Big value."""
    if isinstance(body, Raw):
        return str(body)
    big = _find_big(body)
    text = compact(_marked(body))
    if big is None:
        return text
    before, after = text.split(json.dumps(BIG_MARK), 1)
    return repeat(before + '"', big.unit, big.count, '"' + after)


def text_length(body: Any) -> int:
    text = text_body(body)
    if isinstance(text, str):
        return len(text.encode("utf-8"))
    prefix, unit, count, suffix = text["$repeat"]
    return len(prefix.encode()) + len(unit.encode()) * count + len(suffix.encode())


def object_body(value: Any) -> Any:
    """The body as a JSON object, for direct invocations (a Big value as a `$repeat` string)."""
    if isinstance(value, Big):
        return repeat("", value.unit, value.count)
    if isinstance(value, dict):
        return {name: object_body(item) for name, item in value.items()}
    if isinstance(value, list):
        return [object_body(item) for item in value]
    return value


# -- credentials of the suite's callers, per edge ---------------------------------------------------

AGENTS = {
    "u1": "corpus-agent",
    "u2": "corpus-agent-2",
    "ttl": "ttl-agent",
    "scoped": "scoped-agent",
    "readonly": "readonly-agent",
}
USERS = {"u1": U1, "u2": U2, "ttl": UTTL, "scoped": U1, "readonly": U1}


def token_of(who: str) -> str:
    extra: dict[str, Any] = (
        {"ns_prefix": "job-"} if who == "scoped" else {"read_only": True} if who == "readonly" else {}
    )
    return capability_token(USERS[who], AGENTS[who], **extra)


def direct_identity(who: str) -> dict[str, Any]:
    identity: dict[str, Any] = {"userId": USERS[who], "agentName": AGENTS[who]}
    if who == "scoped":
        identity["nsPrefix"] = "job-"
    if who == "readonly":
        identity["readOnly"] = True
    return identity


def lambda_authorizer_context(who: str) -> dict[str, Any]:
    """What functions/aws/authorizer answers for a capability token (API Gateway passes it on)."""
    context: dict[str, Any] = {"userId": USERS[who], "agentName": AGENTS[who], "readOnly": who == "readonly"}
    context["expiresAt"] = FAR
    if who == "scoped":
        context["nsPrefix"] = "job-"
    return context


def http_event(
    path: str,
    body: Any,
    *,
    headers: dict[str, str] | None = None,
    authorizer: dict[str, Any] | None = None,
    method: str = "POST",
    base64_body: bool = False,
) -> dict[str, Any]:
    """An AWS HTTP API (payload v2) event, trimmed to what the functions read (events/aws/http/ has whole ones)."""
    context: dict[str, Any] = {"http": {"method": method, "path": path}, "requestId": "corpus-gateway-request"}
    if authorizer is not None:
        context["authorizer"] = authorizer
    event: dict[str, Any] = {
        "version": "2.0",
        "rawPath": path,
        "headers": {"content-type": "application/json", **(headers or {})},
        "requestContext": context,
        "isBase64Encoded": base64_body,
    }
    if body is not None:
        event["body"] = body
    return event


def aws_http_step(step: Step) -> dict[str, Any]:
    who = step.who
    if who in ("scoped", "readonly"):
        authorizer = {"lambda": lambda_authorizer_context(who)}
        headers = {}
    else:  # the HTTP API's JWT authorizer: verified claims, the agent from X-Agent-Name
        authorizer = {"jwt": {"claims": {"sub": USERS[who], "iss": JWT_ISSUER}, "scopes": None}}
        headers = {"x-agent-name": AGENTS[who]}
    event = http_event(f"/v1/{step.op}", text_body(step.body), headers=headers, authorizer=authorizer)
    return {"function": step.op, "event": event}


def aws_direct_step(step: Step) -> dict[str, Any] | None:
    if isinstance(step.body, Raw) or "http" in step.tags:
        return None
    return {"function": step.op, "event": {"identity": direct_identity(step.who), **object_body(step.body)}}


def gcp_request(
    target: str, headers: dict[str, str], body: Any, path: str = "/", method: str = "POST"
) -> dict[str, Any]:
    request: dict[str, Any] = {"target": target, "method": method, "path": path, "headers": headers}
    if body is not None:
        request["body"] = body
    return request


def gcp_gateway_step(step: Step) -> dict[str, Any]:
    headers = {"Content-Type": "application/json"}
    if step.who in ("scoped", "readonly"):
        headers["Authorization"] = f"Bearer {token_of(step.who)}"
    else:
        headers["X-Apigateway-Api-Userinfo"] = userinfo({"sub": USERS[step.who], "iss": JWT_ISSUER})
        headers["X-Agent-Name"] = AGENTS[step.who]
    return gcp_request(step.op, headers, text_body(step.body))


DIRECT_HEADERS = {"Content-Type": "application/json", "Authorization": f"Bearer {google_id_token(DIRECT_CALLER)}"}
SANDBOX_HEADERS = {"Content-Type": "application/json", "Authorization": f"Bearer {google_id_token(SANDBOX_GATEWAY)}"}


def gcp_direct_step(step: Step) -> dict[str, Any] | None:
    if isinstance(step.body, Raw) or "http" in step.tags:
        return None
    return gcp_request(step.op, DIRECT_HEADERS, text_body({"identity": direct_identity(step.who), **step.body}))


def gcp_sandbox_step(step: Step) -> dict[str, Any]:
    # Through the sandbox gateway: its own ID token, the caller's token moved to X-Forwarded-Authorization.
    headers = {**SANDBOX_HEADERS, "X-Forwarded-Authorization": f"Bearer {token_of(step.who)}"}
    return gcp_request(step.op, headers, text_body(step.body))


def socket_request(path: str, headers: list[list[str]], body: Any, method: str = "POST") -> dict[str, Any]:
    """A request to the local server or the proxy. A body over 6 MiB is announced but not sent: both refuse it
    from its Content-Length alone, and a body sent to a server that has already answered would race a reset."""
    request: dict[str, Any] = {"method": method, "path": path, "headers": headers}
    if body is not None and text_length(body) > MAX_BODY:
        request["headers"] = [*headers, ["Content-Length", str(text_length(body))]]
        request["note"] = "body not sent"
    elif body is not None:
        request["body"] = text_body(body)
    return request


def server_none_step(step: Step) -> dict[str, Any] | None:
    if step.who in ("scoped", "readonly"):
        return None  # without authentication there is no confined or read-only caller
    headers = [["Content-Type", "application/json"], ["X-User-Id", USERS[step.who]], ["X-Agent-Name", AGENTS[step.who]]]
    return socket_request(f"/v1/{step.op}", headers, step.body)


def server_token_step(step: Step) -> dict[str, Any]:
    headers = [["Content-Type", "application/json"], ["Authorization", f"Bearer {token_of(step.who)}"]]
    return socket_request(f"/v1/{step.op}", headers, step.body)


PROXIES = {"u1": "p1", "u2": "p2"}


def proxy_step(step: Step) -> dict[str, Any] | None:
    if step.who not in PROXIES:
        return None
    return {
        "via": PROXIES[step.who],
        **socket_request(f"/v1/{step.op}", [["Content-Type", "application/json"]], step.body),
    }


STEP_BUILDERS = {
    "aws-http": aws_http_step,
    "aws-direct": aws_direct_step,
    "gcp-gateway": gcp_gateway_step,
    "gcp-direct": gcp_direct_step,
    "gcp-sandbox": gcp_sandbox_step,
    "server-none": server_none_step,
    "server-token": server_token_step,
    "proxy": proxy_step,
}


def suite_exchanges(edge: str) -> list[dict[str, Any]]:
    out = []
    for step in SUITE:
        if step.tier < LEVELS[edge]:
            continue
        if step.after and step.after[0] not in {exchange["name"] for exchange in out}:
            continue
        request = STEP_BUILDERS[edge](step)
        if request is None:
            continue
        exchange: dict[str, Any] = {"name": step.name, "request": request}
        if step.after:
            exchange["wait"] = {"after": step.after[0], "seconds": step.after[1]}
        out.append(exchange)
    return out


# -- what only one edge receives ----------------------------------------------------------------------


def X(name: str, request: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "request": request}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


EXPIRED = capability_token(U1, "corpus-agent", exp=PAST, iat=PAST - 60)
FOREIGN = capability_token(U1, "corpus-agent", secret=FOREIGN_SECRET)
UNKNOWN_KID = capability_token(U1, "corpus-agent", kid="k9")
K2 = capability_token(U1, "rotated-agent", secret=SECRET_K2, kid="k2")
NO_KID = capability_token(U1, "no-kid-agent", kid=None)
NO_SUB = capability_token(None, "corpus-agent")
NO_AGENT = capability_token(U1, None)
AGENT_NOT_STRING = capability_token(U1, 5)
READ_ONLY_NOT_BOOL = capability_token(U1, "corpus-agent", read_only="yes")
NS_PREFIX_NOT_STRING = capability_token(U1, "corpus-agent", ns_prefix=1)
LONG_SUB = capability_token("u" * 513, "corpus-agent")
ALG_NONE = capability_token(U1, "corpus-agent", algorithm="none", secret="")
NOT_A_JWT = "not-a-jwt"
GET_BODY = compact({"namespace": "notes", "key": "greeting", "include_record": True})
SET_BODY = compact({"namespace": "auth", "key": "k", "value": "written"})


EVENTS = ROOT / "events" / "aws"
# The order tests/aws/test_handlers.py sends the sample events in (each reads what the one before wrote).
SAMPLE_ORDER = [
    "set",
    "get",
    "increment",
    "set_many",
    "get_many",
    "list_keys",
    "list_namespaces",
    "stats",
    "delete",
    "clear",
]


def sample_events(kind: str) -> list[dict[str, Any]]:
    """The project's sample events (events/aws/<kind>/), as they are; for `bad`, those of that transport."""
    if kind != "bad":
        return [
            X(f"sample/{kind}/{op}", {"function": op, "event": json.loads((EVENTS / kind / f"{op}.json").read_text())})
            for op in SAMPLE_ORDER
        ]
    out = []
    for path in sorted((EVENTS / "bad").glob("*.json")):
        event = json.loads(path.read_text())
        stem = path.stem.removeprefix("direct_")
        op = max((op for op in OPERATIONS if stem == op or stem.startswith(f"{op}_")), key=len)
        out.append({"name": f"sample/bad/{path.stem}", "request": {"function": op, "event": event}})
    return out


def aws_http_extras() -> list[dict[str, Any]]:
    def ev(function: str, body: Any = GET_BODY, **kwargs: Any) -> dict[str, Any]:
        path = kwargs.pop("path", f"/v1/{function.split('@')[0]}")
        return {"function": function, "event": http_event(path, body, **kwargs)}

    jwt_u1 = {"jwt": {"claims": {"sub": U1}}}
    lam = {"userId": U1, "agentName": "lambda-agent", "readOnly": False, "expiresAt": FAR}
    token = capability_token(U1, "token-agent")
    out = [
        *sample_events("http"),
        *(item for item in sample_events("bad") if "requestContext" in item["request"]["event"]),
        X("auth/jwt-claims-without-agent-header", ev("set", SET_BODY, authorizer=jwt_u1)),
        X(
            "auth/jwt-claims-agent-is-api",
            ev("get", compact({"namespace": "auth", "key": "k", "include_record": True}), authorizer=jwt_u1),
        ),
        X(
            "auth/jwt-claims-agent-header-mixed-case",
            ev("get", GET_BODY, authorizer=jwt_u1, headers={"X-Agent-Name": "Mixed-Case"}),
        ),
        X("auth/jwt-claims-no-sub", ev("get", authorizer={"jwt": {"claims": {"iss": JWT_ISSUER}}})),
        X("auth/jwt-claims-sub-empty", ev("get", authorizer={"jwt": {"claims": {"sub": ""}}})),
        X("auth/jwt-claims-sub-not-string", ev("get", authorizer={"jwt": {"claims": {"sub": 123}}})),
        X("auth/jwt-claims-sub-513-bytes", ev("get", authorizer={"jwt": {"claims": {"sub": "u" * 513}}})),
        X("auth/jwt-claims-agent-257-bytes", ev("get", authorizer=jwt_u1, headers={"x-agent-name": "a" * 257})),
        X("auth/jwt-claims-not-object", ev("get", authorizer={"jwt": {"claims": "sub=corpus-user-1"}})),
        X("auth/lambda-context", ev("get", authorizer={"lambda": lam})),
        X(
            "auth/lambda-context-without-agent-uses-header",
            ev(
                "get", authorizer={"lambda": {"userId": U1, "expiresAt": FAR}}, headers={"x-agent-name": "header-agent"}
            ),
        ),
        X(
            "auth/lambda-context-wins-over-jwt-claims",
            ev("get", authorizer={"lambda": lam, "jwt": {"claims": {"sub": U2}}}),
        ),
        X("auth/lambda-denied", ev("get", authorizer={"lambda": {"denied": "token has expired"}})),
        X("auth/lambda-malformed", ev("get", authorizer={"lambda": {"userId": 5, "expiresAt": FAR}})),
        X("auth/lambda-expired", ev("get", authorizer={"lambda": {**lam, "expiresAt": PAST}})),
        X("auth/lambda-expires-at-as-text", ev("get", authorizer={"lambda": {**lam, "expiresAt": str(FAR)}})),
        X("auth/lambda-read-only-as-text", ev("set", SET_BODY, authorizer={"lambda": {**lam, "readOnly": "true"}})),
        X("auth/lambda-read-only-not-bool", ev("get", authorizer={"lambda": {**lam, "readOnly": "maybe"}})),
        X("auth/lambda-ns-prefix", ev("set", SET_BODY, authorizer={"lambda": {**lam, "nsPrefix": "job-"}})),
        X("auth/no-authorizer-capability-token", ev("set", SET_BODY, headers={"authorization": f"Bearer {token}"})),
        X("auth/no-authorizer-token-lowercase-scheme", ev("get", headers={"authorization": f"bearer {token}"})),
        X("auth/no-authorizer-rotated-kid", ev("get", headers={"authorization": f"Bearer {K2}"})),
        X("auth/no-authorizer-no-credentials", ev("get")),
        X("auth/no-authorizer-expired-token", ev("get", headers={"authorization": f"Bearer {EXPIRED}"})),
        X("auth/no-authorizer-foreign-token", ev("get", headers={"authorization": f"Bearer {FOREIGN}"})),
        X("auth/no-authorizer-unknown-kid", ev("get", headers={"authorization": f"Bearer {UNKNOWN_KID}"})),
        X("auth/no-authorizer-alg-none", ev("get", headers={"authorization": f"Bearer {ALG_NONE}"})),
        X("auth/no-authorizer-basic", ev("get", headers={"authorization": "Basic dXNlcjpwYXNz"})),
        X("auth/no-authorizer-empty-bearer", ev("get", headers={"authorization": "Bearer "})),
        X("auth/no-authorizer-token-without-sub", ev("get", headers={"authorization": f"Bearer {NO_SUB}"})),
        X(
            "auth/no-authorizer-token-agent-not-string",
            ev("get", headers={"authorization": f"Bearer {AGENT_NOT_STRING}"}),
        ),
        X(
            "auth/no-authorizer-token-read-only-not-bool",
            ev("get", headers={"authorization": f"Bearer {READ_ONLY_NOT_BOOL}"}),
        ),
        X("auth/x-user-id-is-not-identity", ev("get", headers={"x-user-id": U1})),
        X(
            "auth/userinfo-header-is-not-identity",
            ev("get", headers={"x-apigateway-api-userinfo": userinfo({"sub": U1})}),
        ),
        X("http/method-get", ev("get", None, authorizer=jwt_u1, method="GET")),
        X("http/method-delete", ev("delete", GET_BODY, authorizer=jwt_u1, method="DELETE")),
        X("http/method-lowercase-post", ev("get", GET_BODY, authorizer=jwt_u1, method="post")),
        X("http/method-lowercase-put", ev("get", GET_BODY, authorizer=jwt_u1, method="put")),
        X("http/path-of-another-operation", ev("get", GET_BODY, authorizer=jwt_u1, path="/v1/set")),
        X("http/unknown-path", ev("get", GET_BODY, authorizer=jwt_u1, path="/v1/nope")),
        X("http/body-base64", ev("get", b64(GET_BODY.encode()), authorizer=jwt_u1, base64_body=True)),
        X("http/body-base64-invalid", ev("get", "!!!not base64", authorizer=jwt_u1, base64_body=True)),
        X(
            "http/body-base64-not-utf8",
            ev("set", b64(b'{"key":"x","value":"\xff\xfe"}'), authorizer=jwt_u1, base64_body=True),
        ),
        X(
            "http/body-base64-over-6MiB",
            ev("set", repeat("", "QUFB", MAX_BODY // 3 + 1), authorizer=jwt_u1, base64_body=True),
        ),
        X("http/body-absent", ev("get", None, authorizer=jwt_u1)),
        X("http/body-unicode-escapes", ev("get", '{"namespace":"notes","key":"gr\\u0065eting"}', authorizer=jwt_u1)),
        X(
            "http/unknown-operation-payload-v1",
            {
                "function": "get",
                "event": {
                    "version": "1.0",
                    "httpMethod": "POST",
                    "path": "/v1/get",
                    "headers": {},
                    "requestContext": {"requestId": "v1"},
                    "body": GET_BODY,
                },
            },
        ),
        X(
            "http/event-with-http-context-not-object",
            {"function": "get", "event": {"version": "2.0", "requestContext": {"http": "POST"}, "body": GET_BODY}},
        ),
    ]
    # Every function answers the same malformed request the same way.
    out += [X(f"http/every-function-invalid-json/{op}", ev(op, "{", authorizer=jwt_u1)) for op in OPERATIONS]
    return out


def aws_direct_extras() -> list[dict[str, Any]]:
    def d(event: Any, function: str = "get") -> dict[str, Any]:
        return {"function": function, "event": event}

    key = {"namespace": "notes", "key": "greeting"}
    return [
        *sample_events("direct"),
        *(item for item in sample_events("bad") if "requestContext" not in item["request"]["event"]),
        X("direct/identity-missing", d(key)),
        X("direct/identity-not-object", d({"identity": U1, **key})),
        X("direct/identity-empty", d({"identity": {}, **key})),
        X("direct/user-id-empty", d({"identity": {"userId": ""}, **key})),
        X("direct/user-id-not-string", d({"identity": {"userId": 7}, **key})),
        X("direct/user-id-513-bytes", d({"identity": {"userId": "u" * 513}, **key})),
        X(
            "direct/agent-missing-is-api",
            d({"identity": {"userId": U1}, "namespace": "direct", "key": "k", "value": 1}, "set"),
        ),
        X(
            "direct/agent-missing-record",
            d({"identity": {"userId": U1}, "namespace": "direct", "key": "k", "include_record": True}),
        ),
        X("direct/agent-empty-is-api", d({"identity": {"userId": U1, "agentName": ""}, **key})),
        X("direct/agent-not-string", d({"identity": {"userId": U1, "agentName": 5}, **key})),
        X("direct/ns-prefix-not-string", d({"identity": {"userId": U1, "nsPrefix": 1}, **key})),
        X("direct/read-only-not-bool", d({"identity": {"userId": U1, "readOnly": "yes"}, **key})),
        X("direct/read-only-write", d({"identity": {"userId": U1, "readOnly": True}, "key": "x", "value": 1}, "set")),
        X("direct/unknown-identity-member", d({"identity": {"userId": U1, "role": "admin"}, **key})),
        X("direct/body-member-as-in-http", d({"identity": {"userId": U1}, "body": compact(key)})),
        X("direct/event-list", d([1, 2])),
        X("direct/event-string", d("get greeting")),
        X("direct/event-null", d(None)),
        X("direct/event-empty-object", d({})),
        X(
            "direct/value-over-6MiB",
            d({"identity": {"userId": U1}, "key": "x", "value": repeat("", "p", MAX_BODY)}, "set"),
        ),
    ]


def aws_authorizer_extras() -> list[dict[str, Any]]:
    def a(headers: Any, *, function: str = "authorizer", **extra: Any) -> dict[str, Any]:
        event = {
            "version": "2.0",
            "type": "REQUEST",
            "routeArn": "arn:aws:execute-api:us-east-1:123456789012:a1b2c3/$default/POST/v1/get",
            "routeKey": "POST /v1/get",
            "rawPath": "/v1/get",
            "headers": headers,
            "requestContext": {"http": {"method": "POST", "path": "/v1/get"}},
        }
        return {"function": function, "event": event, **extra}

    def bearer(token: str) -> dict[str, str]:
        return {"authorization": f"Bearer {token}"}

    good = {"iss": JWT_ISSUER, "sub": "platform-user", "aud": "corpus-api", "exp": FAR}
    return [
        X("capability/plain", a(bearer(capability_token(U1, "corpus-agent")))),
        X(
            "capability/ns-prefix-and-read-only",
            a(bearer(capability_token(U1, "sandbox", ns_prefix="job-", read_only=True))),
        ),
        X("capability/rotated-kid-k2", a(bearer(K2))),
        X("capability/no-kid-is-k1", a(bearer(NO_KID))),
        X("capability/unknown-kid", a(bearer(UNKNOWN_KID))),
        X("capability/expired", a(bearer(EXPIRED))),
        X("capability/foreign-secret", a(bearer(FOREIGN))),
        X("capability/alg-none", a(bearer(ALG_NONE))),
        X("capability/without-sub", a(bearer(NO_SUB))),
        X("capability/without-agent", a(bearer(NO_AGENT))),
        X("capability/agent-not-string", a(bearer(AGENT_NOT_STRING))),
        X("capability/read-only-not-bool", a(bearer(READ_ONLY_NOT_BOOL))),
        X("capability/ns-prefix-not-string", a(bearer(NS_PREFIX_NOT_STRING))),
        X("capability/sub-513-bytes", a(bearer(LONG_SUB))),
        X("capability/header-mixed-case", a({"Authorization": f"Bearer {capability_token(U1, 'corpus-agent')}"})),
        X("capability/lowercase-scheme", a({"authorization": f"bearer {capability_token(U1, 'corpus-agent')}"})),
        X("credentials/missing", a({})),
        X("credentials/headers-null", a(None)),
        X("credentials/basic", a({"authorization": "Basic dXNlcjpwYXNz"})),
        X("credentials/not-a-jwt", a(bearer(NOT_A_JWT))),
        X("credentials/event-not-object", {"function": "authorizer", "event": ["not", "an", "event"]}),
        X("platform/rs256", a(bearer(platform_jwt(good)))),
        X("platform/second-audience", a(bearer(platform_jwt({**good, "aud": ["other", "corpus-cli"]})))),
        X(
            "platform/client-id-instead-of-aud",
            a(bearer(platform_jwt({k: v for k, v in good.items() if k != "aud"} | {"client_id": "corpus-api"}))),
        ),
        X("platform/wrong-audience", a(bearer(platform_jwt({**good, "aud": "someone-else"})))),
        X("platform/no-audience", a(bearer(platform_jwt({k: v for k, v in good.items() if k != "aud"})))),
        X("platform/wrong-issuer", a(bearer(platform_jwt({**good, "iss": "https://evil.test"})))),
        X("platform/expired", a(bearer(platform_jwt({**good, "exp": PAST})))),
        X("platform/without-sub", a(bearer(platform_jwt({k: v for k, v in good.items() if k != "sub"})))),
        X("platform/sub-513-bytes", a(bearer(platform_jwt({**good, "sub": "u" * 513})))),
        X("platform/impostor-key", a(bearer(platform_jwt(good, impostor=True)))),
        X("platform/unknown-kid", a(bearer(platform_jwt(good, kid="idp-key-9")))),
        X("platform/rs256-header-hmac-signature", a(bearer(_rs256_header_hmac_token()))),
        X(
            "platform/jwks-unreachable",
            a(
                bearer(platform_jwt(good)),
                function="authorizer@no-jwks",
                env={"DATASTORE_JWKS_URL": "http://127.0.0.1:9/.well-known/jwks.json"},
            ),
        ),
        X(
            "platform/not-configured",
            a(
                bearer(platform_jwt(good)),
                function="authorizer@no-issuer",
                env={"DATASTORE_JWT_ISSUER": "", "DATASTORE_JWT_AUDIENCE": ""},
            ),
        ),
    ]


def _rs256_header_hmac_token() -> str:
    """A token whose header claims RS256 but whose signature is an HMAC with the capability secret."""
    import hashlib
    import hmac

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")

    signing = (
        part({"alg": "RS256", "kid": "idp-key-1", "typ": "JWT"})
        + "."
        + part({"iss": JWT_ISSUER, "sub": "forged", "aud": "corpus-api", "exp": FAR})
    )
    signature = hmac.new(SECRET.encode(), signing.encode(), hashlib.sha256).digest()
    return signing + "." + base64.urlsafe_b64encode(signature).decode().rstrip("=")


def gcp_gateway_extras() -> list[dict[str, Any]]:
    claims = {"X-Apigateway-Api-Userinfo": userinfo({"sub": U1}), "X-Agent-Name": "gcp-agent"}
    json_claims = {"Content-Type": "application/json", **claims}
    token = capability_token(U1, "token-agent")
    gateway_id = {"Authorization": f"Bearer {google_id_token('api-gateway@corpus.iam.gserviceaccount.com')}"}

    def g(target: str, headers: dict[str, str], body: Any = GET_BODY, **kwargs: Any) -> dict[str, Any]:
        return gcp_request(target, headers, body, **kwargs)

    out = [X(f"http/every-target-invalid-json/{op}", g(op, json_claims, "{")) for op in OPERATIONS]
    out += [
        X("http/method-get", g("get", claims, None, method="GET")),
        X("http/method-put", g("get", json_claims, GET_BODY, method="PUT")),
        X("http/method-delete", g("delete", json_claims, GET_BODY, method="DELETE")),
        X("http/path-is-ignored-by-a-target", g("get", json_claims, GET_BODY, path="/v1/set")),
        X("http/query-string", g("get", json_claims, GET_BODY, path="/?key=other")),
        X("http/body-not-utf8", g("set", json_claims, None) | {"body_base64": b64(b'{"key":"x","value":"\xff"}')}),
        X("http/body-absent", g("get", claims, None)),
        X("http/no-content-type", g("get", claims, GET_BODY)),
        X(
            "http/form-content-type",
            g("get", {**claims, "Content-Type": "application/x-www-form-urlencoded"}, "key=greeting"),
        ),
        X("route/set", g("route", json_claims, SET_BODY, path="/v1/set")),
        X(
            "route/get",
            g("route", json_claims, compact({"namespace": "auth", "key": "k", "include_record": True}), path="/v1/get"),
        ),
        X("route/list-keys", g("route", json_claims, '{"namespace":"auth"}', path="/v1/list_keys")),
        X("route/unknown-operation", g("route", json_claims, "{}", path="/v1/nope")),
        X("route/root", g("route", json_claims, "{}", path="/")),
        X("route/operation-subpath", g("route", json_claims, "{}", path="/v1/get/x")),
        X("route/v2", g("route", json_claims, "{}", path="/v2/get")),
        X("route/method-get", g("route", claims, None, path="/v1/get", method="GET")),
        X("route/healthz", g("route", claims, None, path="/healthz", method="GET")),
        X("route/query-string", g("route", json_claims, GET_BODY, path="/v1/get?x=1")),
        X(
            "auth/userinfo-padded",
            g(
                "get",
                {
                    **json_claims,
                    "X-Apigateway-Api-Userinfo": base64.urlsafe_b64encode(json.dumps({"sub": U1}).encode()).decode(),
                },
            ),
        ),
        X("auth/userinfo-malformed", g("get", {**json_claims, "X-Apigateway-Api-Userinfo": "!!!"})),
        X("auth/userinfo-array", g("get", {**json_claims, "X-Apigateway-Api-Userinfo": userinfo(["sub", U1])})),
        X(
            "auth/userinfo-without-sub",
            g("get", {**json_claims, "X-Apigateway-Api-Userinfo": userinfo({"iss": JWT_ISSUER})}),
        ),
        X("auth/userinfo-sub-empty", g("get", {**json_claims, "X-Apigateway-Api-Userinfo": userinfo({"sub": ""})})),
        X(
            "auth/userinfo-sub-not-string",
            g("get", {**json_claims, "X-Apigateway-Api-Userinfo": userinfo({"sub": 42})}),
        ),
        X("auth/userinfo-without-agent-header", g("get", {"X-Apigateway-Api-Userinfo": userinfo({"sub": U1})})),
        X(
            "auth/userinfo-wins-over-token",
            g("get", {**json_claims, "Authorization": f"Bearer {capability_token(U2, 'other')}"}),
        ),
        X("auth/token-in-authorization", g("set", {"Authorization": f"Bearer {token}"}, SET_BODY)),
        X(
            "auth/token-forwarded-behind-gateway",
            g("get", {**gateway_id, "X-Forwarded-Authorization": f"Bearer {token}"}),
        ),
        X("auth/token-rotated-kid", g("get", {"Authorization": f"Bearer {K2}"})),
        X("auth/token-expired", g("get", {"Authorization": f"Bearer {EXPIRED}"})),
        X("auth/token-foreign", g("get", {"Authorization": f"Bearer {FOREIGN}"})),
        X("auth/token-unknown-kid", g("get", {"Authorization": f"Bearer {UNKNOWN_KID}"})),
        X("auth/token-alg-none", g("get", {"Authorization": f"Bearer {ALG_NONE}"})),
        X("auth/gateway-id-token-only", g("get", gateway_id)),
        X("auth/no-credentials", g("get", {})),
        X("auth/x-user-id-is-not-identity", g("get", {"X-User-Id": U1})),
        X(
            "direct/unlisted-caller",
            g(
                "get",
                {"Authorization": f"Bearer {google_id_token('stranger@corpus.iam.gserviceaccount.com')}"},
                compact({"identity": {"userId": U1}, "key": "greeting", "namespace": "notes"}),
            ),
        ),
        X(
            "direct/listed-email-wrong-issuer",
            g(
                "get",
                {"Authorization": f"Bearer {google_id_token(DIRECT_CALLER, 'https://evil.test')}"},
                compact({"identity": {"userId": U1}, "key": "greeting"}),
            ),
        ),
    ]
    return out


def gcp_direct_extras() -> list[dict[str, Any]]:
    def g(target: str, body: Any, headers: dict[str, str] | None = None, **kwargs: Any) -> dict[str, Any]:
        return gcp_request(target, {**DIRECT_HEADERS, **(headers or {})}, body, **kwargs)

    key = compact({"identity": {"userId": U1, "agentName": "indexer"}, "namespace": "notes", "key": "greeting"})
    return [
        X("direct/invalid-json", g("get", "{")),
        X("direct/not-utf8", g("set", None) | {"body_base64": b64(b'{"identity":{"userId":"u"},"key":"\xff"}')}),
        X("direct/body-empty", g("get", "")),
        X("direct/body-array", g("get", "[1]")),
        X("direct/body-null", g("get", "null")),
        X("direct/identity-missing", g("get", '{"namespace":"notes","key":"greeting"}')),
        X("direct/identity-user-empty", g("get", '{"identity":{"userId":""},"key":"greeting"}')),
        X(
            "direct/agent-missing-is-api",
            g("set", compact({"identity": {"userId": U1}, "namespace": "direct", "key": "k", "value": 1})),
        ),
        X(
            "direct/agent-missing-record",
            g("get", compact({"identity": {"userId": U1}, "namespace": "direct", "key": "k", "include_record": True})),
        ),
        X("direct/route-target", g("route", key, path="/v1/get")),
        X("direct/method-get-is-not-direct", g("get", None, method="GET")),
        X("direct/through-the-gateway-is-not-direct", g("get", key, {"X-Forwarded-Authorization": "Bearer x"})),
        X("direct/with-userinfo-is-not-direct", g("get", key, {"X-Apigateway-Api-Userinfo": userinfo({"sub": U1})})),
        X(
            "direct/value-over-6MiB",
            g("set", repeat('{"identity":{"userId":"corpus-user-1"},"key":"x","value":"', "p", MAX_BODY, '"}')),
        ),
        X(
            "direct/caller-list-with-spaces",
            g("get", key, {"Authorization": f"Bearer {google_id_token(' ' + DIRECT_CALLER)}"}),
        ),
    ]


def gcp_sandbox_extras() -> list[dict[str, Any]]:
    token = capability_token(U1, "sandbox")
    forged = {"X-Apigateway-Api-Userinfo": userinfo({"sub": U2}), "X-Agent-Name": "forger"}

    def g(headers: dict[str, str], body: Any = GET_BODY, target: str = "get") -> dict[str, Any]:
        return gcp_request(target, headers, body)

    return [
        X(
            "sandbox/forwarded-token-set",
            g({**SANDBOX_HEADERS, "X-Forwarded-Authorization": f"Bearer {token}"}, SET_BODY, "set"),
        ),
        X(
            "sandbox/token-straight-in-authorization",
            g({"Authorization": f"Bearer {token}"}, compact({"namespace": "auth", "key": "k", "include_record": True})),
        ),
        X(
            "sandbox/forged-claims-with-token",
            g(
                {**SANDBOX_HEADERS, **forged, "X-Forwarded-Authorization": f"Bearer {token}"},
                compact({"namespace": "auth", "key": "k", "include_record": True}),
            ),
        ),
        X("sandbox/forged-claims-through-gateway", g({**SANDBOX_HEADERS, **forged})),
        X("sandbox/forged-claims-alone", g(forged)),
        X("sandbox/gateway-id-token-only", g(SANDBOX_HEADERS)),
        X("sandbox/no-credentials", g({})),
        X("sandbox/expired-token", g({**SANDBOX_HEADERS, "X-Forwarded-Authorization": f"Bearer {EXPIRED}"})),
        X("sandbox/foreign-token", g({**SANDBOX_HEADERS, "X-Forwarded-Authorization": f"Bearer {FOREIGN}"})),
        X(
            "sandbox/google-id-token-forwarded",
            g({**SANDBOX_HEADERS, "X-Forwarded-Authorization": f"Bearer {google_id_token(DIRECT_CALLER)}"}),
        ),
        X(
            "sandbox/identity-in-body-with-token",
            g(
                {**SANDBOX_HEADERS, "X-Forwarded-Authorization": f"Bearer {token}"},
                compact({"identity": {"userId": U2}, "key": "k", "value": 1}),
                "set",
            ),
        ),
        X(
            "sandbox/trusted-service-account-is-no-direct-caller",
            g(DIRECT_HEADERS, compact({"identity": {"userId": U2}, "key": "k", "value": 1}), "set"),
        ),
        X(
            "sandbox/route-target",
            gcp_request(
                "route", {**SANDBOX_HEADERS, "X-Forwarded-Authorization": f"Bearer {token}"}, GET_BODY, path="/v1/get"
            ),
        ),
        X(
            "sandbox/method-get",
            gcp_request("get", {**SANDBOX_HEADERS, "X-Forwarded-Authorization": f"Bearer {token}"}, None, method="GET"),
        ),
    ]


def R(
    path: str, headers: list[list[str]] | None = None, body: Any = None, method: str = "POST", **extra: Any
) -> dict[str, Any]:
    request: dict[str, Any] = {"method": method, "path": path, "headers": headers or []}
    if body is not None:
        request["body"] = body
    return {**request, **extra}


def http_server_extras(auth: list[list[str]]) -> list[dict[str, Any]]:
    """Requests every HTTP server of the project receives the same way (local server and proxy)."""
    ctype = [["Content-Type", "application/json"]]
    head = auth + ctype
    return [
        X("method/get", R("/v1/get", auth, method="GET")),
        X("method/put", R("/v1/get", head, GET_BODY, method="PUT")),
        X("method/delete", R("/v1/get", auth, method="DELETE")),
        X("method/patch", R("/v1/get", head, GET_BODY, method="PATCH")),
        X("method/options", R("/v1/get", auth, method="OPTIONS")),
        X("method/head", R("/v1/get", auth, method="HEAD")),
        X("method/unknown", R("/v1/get", auth, method="BREW")),
        X("method/get-unknown-path", R("/v1/nope", auth, method="GET")),
        X("path/unknown-operation", R("/v1/nope", head, "{}")),
        X("path/operation-subpath", R("/v1/get/x", head, GET_BODY)),
        X("path/v2", R("/v2/get", head, GET_BODY)),
        X("path/v1-slash", R("/v1/", head, "{}")),
        X("path/v1", R("/v1", head, "{}")),
        X("path/root", R("/", head, "{}")),
        X("path/uppercase-operation", R("/v1/GET", head, GET_BODY)),
        X("path/percent-encoded-operation", R("/v1/%67et", head, GET_BODY)),
        X("path/nul", R("/v1/get%00", head, GET_BODY)),
        X("path/dot-dot", R("/v1/%2e%2e/get", head, GET_BODY)),
        X("path/double-slash", R("//v1/get", head, GET_BODY)),
        X("path/query-string", R("/v1/get?key=other", head, GET_BODY)),
        X("body/not-utf8", R("/v1/set", head) | {"body_base64": b64(b'{"key":"x","value":"\xff"}')}),
        X("body/no-content-length", R("/v1/get", head)),
        X("body/content-length-oversized", R("/v1/set", [*head, ["Content-Length", "7000000"]], note="body not sent")),
        X("body/content-length-not-a-number", R("/v1/set", [*head, ["Content-Length", "abc"]])),
        X("body/content-length-negative", R("/v1/set", [*head, ["Content-Length", "-1"]])),
        X("body/chunked", R("/v1/set", [*head, ["Transfer-Encoding", "chunked"]], note="chunks not sent")),
        X(
            "body/chunked-and-content-length",
            R("/v1/set", [*head, ["Transfer-Encoding", "chunked"], ["Content-Length", "4"]], note="body not sent"),
        ),
        X(
            "body/shorter-than-content-length",
            R("/v1/set", [*head, ["Content-Length", "100"]], '{"key"', half_close=True),
        ),
        X("body/expect-100-continue", R("/v1/get", [*head, ["Expect", "100-continue"]], GET_BODY)),
        X("protocol/garbage-request-line", {"raw": "GARBAGE\r\n\r\n"}),
        X("protocol/http-2.0", {"raw": "GET /healthz HTTP/2.0\r\nHost: 127.0.0.1\r\n\r\n"}),
        X("protocol/http-0.9-post", {"raw": "POST /v1/get\r\n"}),
        X(
            "protocol/http-1.0",
            {
                "raw": "POST /v1/get HTTP/1.0\r\nHost: 127.0.0.1\r\n"
                + "".join(f"{n}: {v}\r\n" for n, v in head)
                + f"Content-Length: {len(GET_BODY)}\r\n\r\n"
                + GET_BODY
            },
        ),
        X("protocol/header-line-too-long", R("/v1/get", [*head, ["X-Padding", repeat("", "a", 70000)]])),
        X("protocol/too-many-headers", R("/v1/get", [*head, *([f"X-H{i}", "1"] for i in range(101))])),
        X("protocol/uri-too-long", R(repeat("/v1/get?", "q", 70000), head)),
    ]


def server_pages() -> list[dict[str, Any]]:
    return [
        X("page/healthz", R("/healthz", method="GET")),
        X("page/healthz-head", R("/healthz", method="HEAD")),
        X("page/healthz-query", R("/healthz?probe=1", method="GET")),
        X("page/openapi", R("/openapi.json", method="GET", record="openapi_paths")),
        X("page/docs", R("/docs", method="GET", record="digest")),
        X("page/ui", R("/ui", method="GET", record="digest")),
        X("page/root", R("/", method="GET")),
        X("page/ui-slash", R("/ui/", method="GET")),
        X("page/favicon", R("/favicon.ico", method="GET")),
        X("page/post-healthz", R("/healthz", [["Content-Type", "application/json"]], "{}")),
        X("page/put-docs", R("/docs", [], "", method="PUT")),
    ]


def server_none_extras() -> list[dict[str, Any]]:
    ctype = ["Content-Type", "application/json"]
    auth = [["X-User-Id", U1], ["X-Agent-Name", "corpus-agent"]]
    record = compact({"namespace": "hdr", "key": "k", "include_record": True})
    set_body = compact({"namespace": "hdr", "key": "k", "value": 1})
    latin1 = b"POST /v1/set HTTP/1.1\r\nHost: 127.0.0.1\r\nX-User-Id: latin\r\nX-Agent-Name: caf\xe9\r\n"
    latin1 += f"Content-Length: {len(set_body)}\r\n\r\n{set_body}".encode()
    return [
        *server_pages(),
        *http_server_extras(auth),
        X("identity/no-headers-is-local", R("/v1/set", [ctype], set_body)),
        X("identity/no-headers-record", R("/v1/get", [ctype], record)),
        X("identity/empty-user-is-local", R("/v1/get", [ctype, ["X-User-Id", ""]], record)),
        X(
            "identity/utf8-agent-name",
            R("/v1/set", [ctype, ["X-User-Id", "utf8"], ["X-Agent-Name", "агент-🙂"]], set_body),
        ),
        X("identity/utf8-agent-record", R("/v1/get", [ctype, ["X-User-Id", "utf8"]], record)),
        X("identity/latin1-agent-name", {"raw_base64": b64(latin1)}),
        X("identity/latin1-agent-record", R("/v1/get", [ctype, ["X-User-Id", "latin"]], record)),
        X("identity/duplicate-user-headers", R("/v1/set", [ctype, ["X-User-Id", "a"], ["X-User-Id", "b"]], set_body)),
        X("identity/duplicate-user-record", R("/v1/get", [ctype, ["X-User-Id", "a,b"]], record)),
        X("identity/user-513-bytes", R("/v1/get", [ctype, ["X-User-Id", "u" * 513]], record)),
        X("identity/agent-257-bytes", R("/v1/get", [ctype, ["X-Agent-Name", "a" * 257]], record)),
        X(
            "identity/token-is-ignored",
            R("/v1/get", [ctype, ["Authorization", f"Bearer {capability_token(U2, 'x')}"]], GET_BODY),
        ),
        X(
            "identity/userinfo-is-ignored",
            R("/v1/get", [ctype, ["X-Apigateway-Api-Userinfo", userinfo({"sub": U1})]], GET_BODY),
        ),
    ]


def server_token_extras() -> list[dict[str, Any]]:
    ctype = ["Content-Type", "application/json"]
    token = capability_token(U1, "corpus-agent")

    def t(value: str, body: str = GET_BODY, *more: list[str]) -> dict[str, Any]:
        return R("/v1/get", [ctype, ["Authorization", value], *more], body)

    return [
        *server_pages(),  # the transport's own requests go through server-none (the same code, auth aside)
        X("method/get", R("/v1/get", [["Authorization", f"Bearer {token}"]], method="GET")),
        X("path/unknown-operation", R("/v1/nope", [ctype, ["Authorization", f"Bearer {token}"]], "{}")),
        X("body/content-length-oversized", R("/v1/set", [ctype, ["Content-Length", "7000000"]], note="body not sent")),
        X("auth/no-credentials", R("/v1/get", [ctype], GET_BODY)),
        X("auth/x-user-id-only", R("/v1/get", [ctype, ["X-User-Id", U1]], GET_BODY)),
        X("auth/userinfo-only", R("/v1/get", [ctype, ["X-Apigateway-Api-Userinfo", userinfo({"sub": U1})]], GET_BODY)),
        X("auth/token-and-x-user-id", t(f"Bearer {token}", GET_BODY, ["X-User-Id", U2], ["X-Agent-Name", "spoof"])),
        X("auth/lowercase-scheme", t(f"bearer {token}")),
        X("auth/rotated-kid-k2", t(f"Bearer {K2}")),
        X("auth/no-kid-is-k1", t(f"Bearer {NO_KID}")),
        X("auth/expired", t(f"Bearer {EXPIRED}")),
        X("auth/foreign-secret", t(f"Bearer {FOREIGN}")),
        X("auth/unknown-kid", t(f"Bearer {UNKNOWN_KID}")),
        X("auth/alg-none", t(f"Bearer {ALG_NONE}")),
        X("auth/without-sub", t(f"Bearer {NO_SUB}")),
        X("auth/without-agent", t(f"Bearer {NO_AGENT}", compact({"namespace": "auth", "key": "k", "value": 1}))),
        X("auth/agent-not-string", t(f"Bearer {AGENT_NOT_STRING}")),
        X("auth/read-only-not-bool", t(f"Bearer {READ_ONLY_NOT_BOOL}")),
        X("auth/ns-prefix-not-string", t(f"Bearer {NS_PREFIX_NOT_STRING}")),
        X("auth/sub-513-bytes", t(f"Bearer {LONG_SUB}")),
        X(
            "auth/platform-jwt",
            t(f"Bearer {platform_jwt({'iss': JWT_ISSUER, 'sub': 'p', 'aud': 'corpus-api', 'exp': FAR})}"),
        ),
        X("auth/basic", t("Basic dXNlcjpwYXNz")),
        X("auth/empty-bearer", t("Bearer ")),
        X("auth/not-a-jwt", t(f"Bearer {NOT_A_JWT}")),
    ]


def proxy_extras() -> list[dict[str, Any]]:
    ctype = ["Content-Type", "application/json"]
    record = compact({"namespace": "spoof", "key": "k", "include_record": True})
    set_body = compact({"namespace": "spoof", "key": "k", "value": "via proxy"})
    spoofing = [
        ["Authorization", f"Bearer {capability_token(U2, 'victim-agent')}"],
        ["X-User-Id", U2],
        ["X-Agent-Name", "spoofed-agent"],
        ["X-Apigateway-Api-Userinfo", userinfo({"sub": U2})],
        ["X-Forwarded-Authorization", f"Bearer {capability_token(U2, 'victim-agent')}"],
        ["Cookie", "token=x"],
        ["Proxy-Authorization", "Bearer x"],
    ]
    out = [{"name": x["name"], "request": {"via": "p1", **x["request"]}} for x in http_server_extras([])]
    out += [
        X("proxy/healthz", {"via": "p1", **R("/healthz", method="GET")}),
        X("proxy/healthz-head", {"via": "p1", **R("/healthz", method="HEAD")}),
        X("proxy/healthz-post", {"via": "p1", **R("/healthz", [ctype], "{}")}),
        X("proxy/healthz-subpath", {"via": "p1", **R("/healthz/x", [ctype], "{}")}),
        X("proxy/openapi-is-not-forwarded", {"via": "p1", **R("/openapi.json", method="GET")}),
        X("proxy/admin-path", {"via": "p1", **R("/v1/admin", [ctype], "{}")}),
        X("proxy/spoofing-headers-set", {"via": "p1", **R("/v1/set", [ctype, *spoofing], set_body)}),
        X("proxy/spoofing-headers-get", {"via": "p1", **R("/v1/get", [ctype, *spoofing], record)}),
        X("proxy/victim-untouched", {"via": "p2", **R("/v1/get", [ctype], record)}),
        X("proxy/minted-token-set", {"via": "p2", **R("/v1/set", [ctype], set_body)}),
        X("proxy/minted-token-record", {"via": "p2", **R("/v1/get", [ctype], record)}),
        X(
            "proxy/user-id-in-body",
            {"via": "p1", **R("/v1/set", [ctype], compact({"key": "k", "value": 1, "userId": U2}))},
        ),
        X("proxy/dead-upstream", {"via": "dead", **R("/v1/get", [ctype], GET_BODY)}),
        X("proxy/dead-upstream-healthz", {"via": "dead", **R("/healthz", method="GET")}),
        X("proxy/dead-upstream-wrong-method", {"via": "dead", **R("/v1/get", method="GET")}),
    ]
    return out


EXTRAS = {
    "aws-http": aws_http_extras,
    "aws-direct": aws_direct_extras,
    "aws-authorizer": aws_authorizer_extras,
    "gcp-gateway": gcp_gateway_extras,
    "gcp-direct": gcp_direct_extras,
    "gcp-sandbox": gcp_sandbox_extras,
    "server-none": server_none_extras,
    "server-token": server_token_extras,
    "proxy": proxy_extras,
}


def exchanges() -> dict[str, list[dict[str, Any]]]:
    """Every edge's exchanges (requests only), in the order they are sent."""
    out = {}
    for edge, extras in EXTRAS.items():
        items = (suite_exchanges(edge) if edge in STEP_BUILDERS else []) + extras()
        names = [item["name"] for item in items]
        duplicates = {name for name in names if names.count(name) > 1}
        assert not duplicates, (edge, duplicates)
        out[edge] = items
    return out
