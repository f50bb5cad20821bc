"""The DynamoDB backend (docs/aws.md): one table, the namespace registry, large values in chunks."""
