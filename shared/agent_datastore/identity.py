"""Who is calling: always from a verified credential, never from a request body."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import Forbidden


@dataclass(frozen=True)
class Identity:
    user_id: str
    agent_name: str = "api"
    ns_prefix: str | None = None  # capability tokens may confine a caller to namespaces
    read_only: bool = False

    def allow(self, namespace: str, *, write: bool) -> None:
        if self.ns_prefix is not None and not namespace.startswith(self.ns_prefix):
            raise Forbidden(f"this credential may only use namespaces starting with {self.ns_prefix!r}")
        if write and self.read_only:
            raise Forbidden("this credential is read-only")

    def sees(self, namespace: str) -> bool:
        return self.ns_prefix is None or namespace.startswith(self.ns_prefix)
