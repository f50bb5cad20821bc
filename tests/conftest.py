"""Fixtures shared by every test level."""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture
def user_id() -> str:
    """A fresh user per test: tests against a shared server never see each other."""
    return f"user-{uuid.uuid4().hex[:12]}"
