"""What the Lambda service sets in a function's process, for running a handler as deployed
(bench/coldstart.py and tests/deploy/test_lambda_artifacts.py): one account of it, so the
benchmark and the deployment test run the functions in the same environment."""

from __future__ import annotations

TRACE_ROOT = "Root=1-6750a1b2-0123456789abcdef01234567;Parent=0123456789abcdef"


def lambda_service_env(
    name: str, *, task_root: str, handler: str, memory: int, endpoint: str, sampled: bool = False
) -> dict[str, str]:
    """The variables of function `name`'s process before its own (template) variables are added.
    Active tracing: the X-Ray SDK runs as in Lambda; when not `sampled` it sends nothing. AWS
    calls go to `endpoint` (the DynamoDB test server, which answers Secrets Manager too)."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_SESSION_TOKEN": "test",
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory),
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "LAMBDA_TASK_ROOT": task_root,
        "_HANDLER": handler,
        "_X_AMZN_TRACE_ID": f"{TRACE_ROOT};Sampled={int(sampled)}",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
        "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": endpoint,
    }
