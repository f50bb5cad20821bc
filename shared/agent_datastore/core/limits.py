"""The limits of API.md section 3, the same on every backend and every transport.

Defined once here; the SDK keeps its own copy (it installs without the core) and
tests/sdk/test_core_tables.py holds the two equal.
"""

from __future__ import annotations

MAX_KEY_BYTES = 1024
MAX_NAMESPACE_BYTES = 256
MAX_VALUE_BYTES = 1024 * 1024
MAX_METADATA_BYTES = 16 * 1024
MAX_BATCH = 100
MAX_PAGE = 1000
MAX_TTL_SECONDS = 365 * 24 * 3600
# Request and response bodies alike: the AWS Lambda synchronous payload limit.
MAX_BODY_BYTES = 6 * 1024 * 1024
