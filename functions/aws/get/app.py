"""AWS Lambda entry point of POST /v1/get (API.md section 4); the logic lives in agent_datastore."""

from agent_datastore.edges.aws.handler import aws_handler

handler = aws_handler("get")
