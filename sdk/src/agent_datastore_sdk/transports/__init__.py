"""Transports: HTTP (httpx), AWS direct invocation (boto3), in-process (the core)."""
