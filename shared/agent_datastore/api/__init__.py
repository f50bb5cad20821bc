"""The API: request and response models, the operations over a `Store` and their table, the OpenAPI document.

Takes validated requests and verified identities; knows nothing of HTTP or cloud events.
"""
