"""The names the edges used before the operation table (api/service.py `OPERATIONS`).

Views of the table, kept while the edges still import them; new code reads
the table, the request models (api/requests.py) and the limits (core/limits.py).
"""

from __future__ import annotations

from agent_datastore.api.requests import Request as Request
from agent_datastore.api.service import OPERATIONS
from agent_datastore.api.service import parse_request as parse_request
from agent_datastore.core.limits import MAX_BODY_BYTES as MAX_BODY_BYTES
from agent_datastore.core.limits import MAX_VALUE_BYTES as MAX_VALUE_BYTES

REQUEST_MODELS: dict[str, type[Request]] = {name: operation.request for name, operation in OPERATIONS.items()}
