"""Who is calling: always from a verified credential, never from a request body."""

from __future__ import annotations

from dataclasses import dataclass

from agent_datastore.core.errors import Forbidden, Unauthorized

# Every backend must fit a user id into its partition key / document id
# together with a 256-byte namespace; 512 bytes leaves room everywhere.
MAX_USER_ID_BYTES = 512
MAX_AGENT_NAME_BYTES = 256


def _check(text: str, what: str, limit: int) -> None:
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise Unauthorized(f"{what} is not valid UTF-8") from None
    if not 1 <= size <= limit or "\x00" in text:
        raise Unauthorized(f"{what} must be 1-{limit} bytes of UTF-8 without NUL")


@dataclass(frozen=True)
class Identity:
    user_id: str
    agent_name: str = "api"
    ns_prefix: str | None = None  # capability tokens may confine a caller to namespaces
    read_only: bool = False

    def __post_init__(self) -> None:
        # Identities come from credentials; a malformed one is a credential problem (401).
        _check(self.user_id, "user id", MAX_USER_ID_BYTES)
        _check(self.agent_name, "agent name", MAX_AGENT_NAME_BYTES)

    def allow(self, namespace: str, *, write: bool) -> None:
        if self.ns_prefix is not None and not namespace.startswith(self.ns_prefix):
            raise Forbidden(f"this credential may only use namespaces starting with {self.ns_prefix!r}")
        if write and self.read_only:
            raise Forbidden("this credential is read-only")

    def sees(self, namespace: str) -> bool:
        return self.ns_prefix is None or namespace.startswith(self.ns_prefix)
