"""In-process transport: the core's own direct-invocation handlers, no network.

For tests and for embedding the store in a Python program. Each call goes
through `agent_datastore.edges.aws.handler.make_handler(operation)` exactly
as a direct invocation of the deployed function would, with the body
round-tripped through JSON so the values seen are what the wire would
carry. The core (`agent-datastore`) is imported on first use only.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from .. import errors
from .base import Call


class InProcessTransport:
    def __init__(
        self,
        user_id: str = "local",
        agent_name: str = "api",
        *,
        ns_prefix: str | None = None,
        read_only: bool = False,
        api: Any = None,
        store: Any = None,
        settings: Any = None,
    ) -> None:
        """`api` (an `agent_datastore.api.app.Api`) wins; else one is built from `store`/`settings`
        (defaults: the environment's configuration, SQLite at `SQLITE_PATH`)."""
        self.identity: dict[str, Any] = {"userId": user_id, "agentName": agent_name}
        if ns_prefix is not None:
            self.identity["nsPrefix"] = ns_prefix
        if read_only:
            self.identity["readOnly"] = True
        self._api = api
        self._store = store
        self._settings = settings
        self._handlers: dict[str, Any] = {}
        self._lock = threading.Lock()

    @classmethod
    def memory(cls, user_id: str = "local", agent_name: str = "api", **kwargs: Any) -> InProcessTransport:
        """A throw-away in-memory store (tests, notebooks)."""
        from agent_datastore.stores.memory import MemoryStore

        return cls(user_id, agent_name, store=MemoryStore(), **kwargs)

    @property
    def api(self) -> Any:
        with self._lock:
            if self._api is None:
                from agent_datastore.api.app import Api

                self._api = Api(self._settings, self._store)
            return self._api

    def handler(self, operation: str) -> Any:
        handler = self._handlers.get(operation)
        if handler is None:
            from agent_datastore.edges.aws.handler import make_handler

            handler = self._handlers[operation] = make_handler(operation, self.api)
        return handler

    def call(self, call: Call) -> dict[str, Any]:
        event = {"identity": self.identity, **json.loads(call.data)}
        result = self.handler(call.operation)(event, None)
        status, body = result["statusCode"], result["body"]
        # Through JSON, as a real invocation's answer would come back.
        body = json.loads(json.dumps(body))
        if status == 200 and isinstance(body, dict):
            return body
        raise errors.error_from_response(status, body)

    def close(self) -> None:
        pass
