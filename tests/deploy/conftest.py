"""The artifact tests run the built functions on the same local DynamoDB server as tests/aws."""

from tests.aws.conftest import table  # noqa: F401  (the session's table, created from template.yaml)
