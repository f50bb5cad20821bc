"""One typed settings object, read from the environment in one place.

Precedence everywhere: explicit argument > environment variable > default.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from agent_datastore.core.errors import BackendUnavailable

AUTH_MODES = ("none", "token", "gateway")

logger = logging.getLogger("agent_datastore.settings")


class ConfigurationError(ValueError):
    """A setting (environment variable or flag) the process cannot run with; the CLI prints it as one line."""


@dataclass(frozen=True)
class Settings:
    store_backend: str = field(default="sqlite", metadata={"env": "STORE_BACKEND"})
    sqlite_path: str = field(default=".data/datastore.sqlite3", metadata={"env": "SQLITE_PATH"})
    # none: identity from X-User-Id / X-Agent-Name (local development only);
    # token: capability tokens (HS256) verified here;
    # gateway: identity verified by the API gateway (AWS Lambda authorizer context or JWT authorizer
    # claims), capability tokens also accepted.
    auth: str = field(default="gateway", metadata={"env": "DATASTORE_AUTH"})
    token_secret: str = field(default="", metadata={"env": "DATASTORE_TOKEN_SECRET"})
    # Comma-separated kid=secret pairs that are also valid (key rotation).
    token_secrets_extra: str = field(default="", metadata={"env": "DATASTORE_TOKEN_SECRETS"})
    # On AWS: the token secret(s) from Secrets Manager or SSM Parameter Store, fetched lazily and cached.
    token_secret_arn: str = field(default="", metadata={"env": "DATASTORE_TOKEN_SECRET_ARN"})
    token_secret_parameter: str = field(default="", metadata={"env": "DATASTORE_TOKEN_SECRET_PARAMETER"})
    # AWS Lambda authorizer: the platform identity provider whose RS256/ES256 JWTs the HTTP API
    # accepts (issuer, comma-separated audiences or client ids; JWKS at <issuer>/.well-known/jwks.json
    # unless DATASTORE_JWKS_URL names it).
    jwt_issuer: str = field(default="", metadata={"env": "DATASTORE_JWT_ISSUER"})
    jwt_audience: str = field(default="", metadata={"env": "DATASTORE_JWT_AUDIENCE"})
    jwks_url: str = field(default="", metadata={"env": "DATASTORE_JWKS_URL"})
    # The key of `list_keys` cursors (API.md section 4: a forged cursor is invalid_cursor); see
    # `cursor_key` for what stands in when it is not set.
    cursor_secret: str = field(default="", metadata={"env": "DATASTORE_CURSOR_SECRET"})
    # On AWS: the cursor secret in Secrets Manager (template.yaml makes it), read by the Lambda edge.
    cursor_secret_arn: str = field(default="", metadata={"env": "DATASTORE_CURSOR_SECRET_ARN"})
    # Set by the cloud function edges, where many instances answer one deployment: there a key of
    # this process alone would refuse the cursors of the others, so without a secret paging is refused.
    shared_cursor_key: bool = field(default=False, metadata={"env": None})
    # Seconds one request may spend on `clear` before answering done: false.
    request_budget_seconds: float = field(default=20.0, metadata={"env": "DATASTORE_REQUEST_BUDGET"})
    dynamodb_table: str = field(default="agent_data_store", metadata={"env": "DYNAMODB_TABLE"})
    firestore_collection: str = field(default="agent_data_store", metadata={"env": "FIRESTORE_COLLECTION"})
    firestore_database: str = field(default="(default)", metadata={"env": "FIRESTORE_DATABASE"})
    # Google Cloud: comma-separated service-account emails whose IAM-verified calls to a
    # function are trusted direct invocations (API.md section 5, caller 3).
    direct_callers: str = field(default="", metadata={"env": "DATASTORE_DIRECT_CALLERS"})
    couchdb_url: str = field(default="http://127.0.0.1:5984", metadata={"env": "COUCHDB_URL"})
    couchdb_db: str = field(default="agent_data_store", metadata={"env": "COUCHDB_DB"})
    log_level: str = field(default="INFO", metadata={"env": "LOG_LEVEL"})

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for item in fields(cls):
            if item.metadata["env"] is None:
                continue
            raw = env.get(item.metadata["env"])
            if raw is None or raw == "":
                continue
            if item.type == "float":
                try:
                    values[item.name] = float(raw)
                except ValueError:
                    raise ConfigurationError(
                        f"{item.metadata['env']} must be a number of seconds, not {raw!r}"
                    ) from None
            else:
                values[item.name] = raw
        settings = cls(**values)
        settings = replace(settings, **overrides)
        if settings.auth not in AUTH_MODES:
            raise ConfigurationError(f"DATASTORE_AUTH must be one of {', '.join(AUTH_MODES)}, not {settings.auth!r}")
        return settings

    @property
    def cursor_key(self) -> bytes:
        """The MAC key of `list_keys` cursors: DATASTORE_CURSOR_SECRET; else one derived from the
        token secret; else, where one process answers (the local server keeps its key in a file,
        see `edges.local.server`; tests; the SDK's in-process transport), a random key of this
        process. A cloud function (`shared_cursor_key`) without any secret refuses to page: a
        per-process key would break cursors between instances, and a constant would let anyone
        mint them."""
        if self.cursor_secret:
            return self.cursor_secret.encode("utf-8")
        if self.token_secret:
            return derive_cursor_secret(self.token_secret).encode("ascii")
        if self.shared_cursor_key:
            _no_cursor_key()
        return _process_cursor_key()


def derive_cursor_secret(token_secret: str) -> str:
    """A cursor secret from the token secret: a key of its own (HMAC with a fixed label), so that
    a cursor's MAC is never a MAC under the key that signs capability tokens."""
    return hmac.new(token_secret.encode("utf-8"), b"agent-datastore list_keys cursors", hashlib.sha256).hexdigest()


@functools.cache
def _process_cursor_key() -> bytes:
    return secrets.token_bytes(32)


def _no_cursor_key() -> None:
    _log_no_cursor_key()
    raise BackendUnavailable(
        "list_keys cannot page here: no cursor secret is configured (DATASTORE_CURSOR_SECRET, "
        "DATASTORE_CURSOR_SECRET_ARN or a token secret); the deployment must provide one"
    )


@functools.cache
def _log_no_cursor_key() -> None:
    logger.error(
        "NO CURSOR SECRET: list_keys refuses every request that needs a cursor. Set DATASTORE_CURSOR_SECRET "
        "(or DATASTORE_CURSOR_SECRET_ARN on AWS, or a token secret); template.yaml and infra/gcp make one."
    )
