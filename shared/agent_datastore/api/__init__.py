"""The API: request models, the operations over a `Store`, and the OpenAPI document.

Takes validated requests and verified identities; knows nothing of HTTP or cloud events.
"""
