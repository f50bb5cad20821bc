"""AWS Lambda authorizer of the HTTP API (docs/aws.md, "Calling it"); the logic lives in agent_datastore."""

from agent_datastore.edges.aws.authorizer import authorizer_handler

handler = authorizer_handler()
