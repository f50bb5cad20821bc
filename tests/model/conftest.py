"""The model test runs on the contract suite's stores: one per backend (tests/contract/backends/)."""

from __future__ import annotations

from tests.contract.conftest import backend_store

__all__ = ["backend_store"]
