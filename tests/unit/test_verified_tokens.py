"""A capability token verified once is not checked again on every request (edges/auth.py
`_verified`), but only while its key is still configured with the same secret and it has not
expired: rotation and expiry refuse it as they did before the cache."""

from __future__ import annotations

import time

import jwt
import pytest

from agent_datastore.core.errors import Unauthorized
from agent_datastore.edges import auth

SECRET, OTHER = "s" * 40, "o" * 40


@pytest.fixture(autouse=True)
def empty_cache() -> None:
    auth._verified.clear()


def test_a_token_seen_before_is_not_decoded_again(monkeypatch: pytest.MonkeyPatch) -> None:
    token = auth.mint_token(SECRET, user="alice", agent="bot", ttl_seconds=60, kid="k1")
    first = auth.verify_token(token, {"k1": SECRET})
    calls = []
    monkeypatch.setattr(jwt, "decode", lambda *args, **kwargs: calls.append(args))
    assert auth.verify_token(token, {"k1": SECRET}) == first
    assert calls == [] and first.user_id == "alice" and first.agent_name == "bot"


def test_a_rotated_secret_refuses_a_token_verified_before() -> None:
    token = auth.mint_token(SECRET, user="alice", agent="bot", ttl_seconds=60, kid="k1")
    auth.verify_token(token, {"k1": SECRET})
    with pytest.raises(Unauthorized, match="not valid"):
        auth.verify_token(token, {"k1": OTHER})  # same kid, another secret
    with pytest.raises(Unauthorized, match="unknown key"):
        auth.verify_token(token, {"k2": SECRET})  # its key is gone


def test_an_expired_token_is_refused_though_it_was_verified_before() -> None:
    token = auth.mint_token(SECRET, user="alice", agent="bot", ttl_seconds=1, kid="k1")
    auth.verify_token(token, {"k1": SECRET})
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    time.sleep(max(0.0, exp - time.time()) + 0.05)
    with pytest.raises(Unauthorized, match="expired"):
        auth.verify_token(token, {"k1": SECRET})


def test_the_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "VERIFIED_CACHE_SIZE", 3)
    tokens = [auth.mint_token(SECRET, user=f"u{i}", agent="bot", ttl_seconds=60, kid="k1") for i in range(5)]
    for token in tokens:
        auth.verify_token(token, {"k1": SECRET})
    assert list(auth._verified) == tokens[2:]
