"""One typed settings object, read from the environment in one place.

Precedence everywhere: explicit argument > environment variable > default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

AUTH_MODES = ("none", "token", "gateway")


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
    cursor_secret: str = field(default="", metadata={"env": "DATASTORE_CURSOR_SECRET"})
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
        # Cursors only position a listing inside the caller's own namespace, so
        # the MAC guards against edits and cross-scope reuse; a deployment
        # should still set its own secret.
        secret = self.cursor_secret or self.token_secret or "agent-datastore-cursor-v1"
        return secret.encode("utf-8")
