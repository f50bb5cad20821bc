"""The edges: each transport translates its own input into one neutral request and back.

AWS Lambda (`aws/`), Google Cloud (`gcp`), and the local server and sandbox proxy (`local/`).
"""
