"""Subcommands of the `agent-datastore` console script (see cli.py)."""
