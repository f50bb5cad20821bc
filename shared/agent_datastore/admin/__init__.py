"""Operator toolkit behind `agent-datastore admin ...`.

Everything here goes through the `Store` interface (users, scan, stats,
list_keys, restore, purge_user, purge_expired), so every command works the
same on every backend. The CLI in `commands/admin.py` only parses arguments
and prints what these functions return.
"""
