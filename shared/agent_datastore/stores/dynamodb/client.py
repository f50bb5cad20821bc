"""The boto3 DynamoDB client for `DynamoDBStore`, and its errors in domain terms.

Every call goes through `DynamoClient.call`, which turns botocore's errors
into domain errors (throttling -> `Throttled`, connection failures and
5xx -> `BackendUnavailable`) or into the two internal signals the store
handles itself (`ConditionFailed`, `TransactionCancelled`). No botocore
exception leaves this module.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from agent_datastore.core.errors import BackendUnavailable, InternalError, Throttled
from agent_datastore.core.settings import ConfigurationError
from agent_datastore.stores.retry import backoff

logger = logging.getLogger("agent_datastore.dynamodb")

THROTTLE_CODES = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "Throttling",
    "TooManyRequestsException",
}
UNAVAILABLE_CODES = {
    "InternalServerError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "TransactionInProgressException",
    "TransactionConflictException",
    "ItemCollectionSizeLimitExceededException",
    "ResourceInUseException",
}
THROTTLE_REASONS = {"ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"}
CONFLICT_CODE = "TransactionConflictException"
CONFLICT_ATTEMPTS = 10


_CLIENTS = threading.Lock()


def aws_client(service: str, **options: Any) -> Any:
    """A boto3 client made from the process's one session (boto3's default, made on first use).
    The DynamoDB client and the secrets clients (edges/aws/secrets.py) share it, so botocore
    reads its data files and resolves credentials once: a first `list_keys`, which also reads
    the cursor secret, pays for one session, not two. Clients are made one at a time (a
    session is not thread-safe; its clients are)."""
    import boto3

    make: Any = boto3.client  # the stubs know each service's client by a literal name
    with _CLIENTS:
        return make(service, **options)


class ConditionFailed(Exception):
    """A ConditionExpression did not hold; `item` is the stored item (or None)."""

    def __init__(self, item: dict[str, Any] | None) -> None:
        super().__init__("condition failed")
        self.item = item


class ItemLocked(BackendUnavailable):
    """A single-item request met an item another transaction holds (`TransactionConflictException`)."""


class TransactionCancelled(Exception):
    """TransactWriteItems was cancelled; `reasons` has one entry per action."""

    def __init__(self, reasons: list[dict[str, Any]]) -> None:
        super().__init__("transaction cancelled")
        self.reasons = reasons

    def codes(self) -> set[str]:
        return {reason.get("Code", "None") for reason in self.reasons} - {"None"}

    def failed_items(self) -> list[tuple[int, dict[str, Any] | None]]:
        return [
            (index, reason.get("Item"))
            for index, reason in enumerate(self.reasons)
            if reason.get("Code") == "ConditionalCheckFailed"
        ]


class DynamoClient:
    """A lazily created, injectable boto3 client with error translation."""

    def __init__(self, client: Any = None, *, retry_mode: str = "standard", max_attempts: int = 4) -> None:
        self._client = client
        self._lock = threading.Lock()
        self.retry_mode = retry_mode
        self.max_attempts = max_attempts

    @property
    def raw(self) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._create()
        return self._client

    def _create(self) -> Any:
        try:
            import boto3  # noqa: F401
            import botocore.exceptions
            from botocore.config import Config
        except ImportError as exc:  # pragma: no cover - packaging error
            raise BackendUnavailable("boto3 is not installed: pip install 'agent-datastore[aws]'") from exc
        # The endpoint comes from the standard AWS_ENDPOINT_URL_DYNAMODB /
        # AWS_ENDPOINT_URL (botocore >= 1.31 reads them itself).
        retries: Any = {"mode": self.retry_mode, "max_attempts": self.max_attempts}
        config = Config(
            retries=retries,
            connect_timeout=3,
            read_timeout=10,
            max_pool_connections=32,
            tcp_keepalive=True,
        )
        try:
            return aws_client("dynamodb", config=config)
        except botocore.exceptions.NoRegionError:
            raise ConfigurationError("DynamoDB needs a region: set AWS_REGION (or AWS_DEFAULT_REGION)") from None
        except Exception as exc:  # a bad endpoint URL, ...
            raise BackendUnavailable(f"cannot create the DynamoDB client: {exc}") from exc

    def call(self, operation: str, **params: Any) -> dict[str, Any]:
        """One API call. A single-item write refused for a transaction in flight on its item
        (TransactionConflictException, which botocore does not retry) applied nothing: it is sent
        again after a backoff, up to `CONFLICT_ATTEMPTS` times."""
        from botocore.exceptions import BotoCoreError, ClientError

        for attempt in range(1, CONFLICT_ATTEMPTS + 1):
            try:
                result: dict[str, Any] = getattr(self.raw, operation)(**params)
                return result
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == CONFLICT_CODE and attempt < CONFLICT_ATTEMPTS:
                    backoff(attempt, base=0.01, cap=0.25)
                    continue
                raise translate(operation, exc) from exc
            except BotoCoreError as exc:
                logger.warning("DynamoDB %s failed: %s", operation, exc)
                raise BackendUnavailable("the DynamoDB service could not be reached") from exc
        raise AssertionError("unreachable")


def translate(operation: str, exc: Any) -> Exception:
    """Domain error (or internal signal) for a botocore ClientError."""
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    if code == "ConditionalCheckFailedException":
        return ConditionFailed(exc.response.get("Item"))
    if code == "TransactionCanceledException":
        reasons = list(exc.response.get("CancellationReasons") or [])
        codes = {reason.get("Code") for reason in reasons}
        if codes & THROTTLE_REASONS:
            return Throttled("DynamoDB is throttling requests; retry shortly")
        return TransactionCancelled(reasons)
    if code == "TransactionConflictException":
        return ItemLocked("DynamoDB is unavailable; retry shortly")
    if code in THROTTLE_CODES:
        return Throttled("DynamoDB is throttling requests; retry shortly")
    if code == "ResourceNotFoundException":
        return BackendUnavailable("the DynamoDB table does not exist; run `agent-datastore admin create`")
    if code in UNAVAILABLE_CODES or status >= 500:
        logger.warning("DynamoDB %s failed: %s", operation, code)
        return BackendUnavailable("DynamoDB is unavailable; retry shortly")
    if code in {"AccessDeniedException", "UnrecognizedClientException", "MissingAuthenticationTokenException"}:
        logger.error("DynamoDB %s refused: %s", operation, code)
        return BackendUnavailable("the store is not allowed to reach its DynamoDB table")
    logger.error("DynamoDB %s rejected the request: %s %s", operation, code, error.get("Message", ""))
    return InternalError("the storage backend rejected the request")
