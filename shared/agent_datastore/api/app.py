"""The process's wiring: settings, store and service, each made once (lazily) and shared.

Every edge holds one `Api` per process; nothing is opened at import, so a cold
start pays only for what the first request needs: the service (and with it the
request models and pydantic) is imported when it is first made.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from agent_datastore.core.settings import Settings

if TYPE_CHECKING:
    from agent_datastore.api.service import DataStoreService
    from agent_datastore.stores.base import Store


class Api:
    """Settings (from the environment unless given), the store they name, and the service over it."""

    def __init__(self, settings: Settings | None = None, store: Store | None = None) -> None:
        self._settings = settings
        self._store = store
        self._service: DataStoreService | None = None
        self._lock = threading.Lock()

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = Settings.from_env()
        return self._settings

    @property
    def service(self) -> DataStoreService:
        if self._service is None:
            # Threaded servers (every HTTP edge) may ask at once.
            with self._lock:
                if self._service is None:
                    from agent_datastore.api.service import DataStoreService

                    if self._store is None:
                        from agent_datastore.stores import create_store

                        self._store = create_store(self.settings)
                    self._service = DataStoreService(self._store, self.settings)
        return self._service

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
