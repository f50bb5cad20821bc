"""Secrets kept in AWS: the token secret in Secrets Manager (`DATASTORE_TOKEN_SECRET_ARN`) or SSM
Parameter Store (`DATASTORE_TOKEN_SECRET_PARAMETER`, SecureString), and the cursor secret the
stack makes in Secrets Manager (`DATASTORE_CURSOR_SECRET_ARN`).

`SECRET_CACHE` is the `auth.SecretSource` the Lambda functions, the authorizer and
the CLI inject; boto3 is imported on the first fetch only, and its clients come from the one
session the DynamoDB client uses too (`aws_client`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from agent_datastore.core.errors import BackendUnavailable
from agent_datastore.core.settings import Settings
from agent_datastore.edges.auth import parse_secrets

logger = logging.getLogger("agent_datastore.edges.aws.secrets")


class SecretCache:
    """Secrets fetched from AWS, kept for `ttl` seconds; an unknown `kid` refetches early
    (at most every `min_refresh` seconds) so a rotation is picked up at once."""

    def __init__(
        self,
        ttl: float = 300.0,
        min_refresh: float = 30.0,
        fetch: Callable[[Settings], str] | None = None,
        fetch_named: Callable[[str], str] | None = None,
    ):
        self.ttl, self.min_refresh = ttl, min_refresh
        self.fetch = fetch or fetch_remote_secret
        self.fetch_named = fetch_named or fetch_named_secret
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], tuple[float, dict[str, str]]] = {}
        self._named: dict[str, tuple[float, str]] = {}

    def named(self, arn: str) -> str:
        """The text of the Secrets Manager secret `arn` (the cursor secret), kept for `ttl` seconds."""
        with self._lock:
            cached = self._named.get(arn)
            if cached is not None and time.monotonic() - cached[0] < self.ttl:
                return cached[1]
            text = self.fetch_named(arn).strip()
            if not text:
                raise BackendUnavailable(f"the secret {arn} is empty")
            self._named[arn] = (time.monotonic(), text)
            return text

    def get(self, settings: Settings, *, refresh: bool = False) -> dict[str, str]:
        source = (settings.token_secret_arn, settings.token_secret_parameter)
        with self._lock:
            now = time.monotonic()
            cached = self._entries.get(source)
            if cached is not None:
                age = now - cached[0]
                if age < self.ttl and not (refresh and age >= self.min_refresh):
                    return cached[1]
            try:
                secrets = parse_secrets(self.fetch(settings))
            except ValueError as exc:
                raise BackendUnavailable(f"the token secret is malformed: {exc}") from None
            self._entries[source] = (now, secrets)
            return secrets

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._named.clear()


def fetch_remote_secret(settings: Settings) -> str:
    """The secret text from Secrets Manager or SSM. Endpoints follow the standard
    variables (`AWS_ENDPOINT_URL_SECRETS_MANAGER`, `AWS_ENDPOINT_URL_SSM`)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from agent_datastore.stores.dynamodb.client import aws_client

    try:
        if settings.token_secret_arn:
            answer = aws_client("secretsmanager").get_secret_value(SecretId=settings.token_secret_arn)
            return str(answer["SecretString"])
        answer = aws_client("ssm").get_parameter(Name=settings.token_secret_parameter, WithDecryption=True)
        return str(answer["Parameter"]["Value"])
    except (BotoCoreError, ClientError) as exc:
        logger.warning("could not fetch the token secret: %s", exc)
        raise BackendUnavailable("the token secret could not be fetched; try again shortly") from None


def fetch_named_secret(arn: str) -> str:
    """The text of one Secrets Manager secret (endpoint: `AWS_ENDPOINT_URL_SECRETS_MANAGER`)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from agent_datastore.stores.dynamodb.client import aws_client

    try:
        return str(aws_client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"])
    except (BotoCoreError, ClientError) as exc:
        logger.warning("could not fetch the secret %s: %s", arn, exc)
        raise BackendUnavailable("a secret could not be fetched; try again shortly") from None


SECRET_CACHE = SecretCache()
