"""The AWS edge: Lambda handlers (HTTP API v2 and direct invocation), the Lambda authorizer, the TTL stream consumer."""
