"""Backend registry: the configured backend is imported lazily, on first use."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from agent_datastore.core.settings import ConfigurationError

if TYPE_CHECKING:
    from agent_datastore.core.settings import Settings
    from agent_datastore.stores.base import Store

# name -> "module:factory"; the factory takes Settings and returns a Store.
BACKENDS: dict[str, str] = {
    "memory": "agent_datastore.stores.memory:from_settings",
    "sqlite": "agent_datastore.stores.sqlite.store:from_settings",
    "dynamodb": "agent_datastore.stores.dynamodb.store:from_settings",
    "firestore": "agent_datastore.stores.firestore.store:from_settings",
    "couchdb": "agent_datastore.stores.couchdb.store:from_settings",
}


def create_store(settings: Settings) -> Store:
    target = BACKENDS.get(settings.store_backend)
    if target is None:
        raise ConfigurationError(f"STORE_BACKEND must be one of {', '.join(BACKENDS)}, not {settings.store_backend!r}")
    module_name, factory = target.split(":")
    module = importlib.import_module(module_name)
    store: Store = getattr(module, factory)(settings)
    return store
