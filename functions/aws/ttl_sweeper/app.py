"""AWS Lambda consumer of the table's stream: records deleted by DynamoDB's TTL leave the namespace
registry (docs/aws.md, "Expiry and the namespace registry"); the logic lives in agent_datastore."""

from agent_datastore.edges.aws.ttl import ttl_sweeper_handler

handler = ttl_sweeper_handler()
