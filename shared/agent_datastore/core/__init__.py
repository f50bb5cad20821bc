"""The core: errors, settings, identity, the record and its rules, JSON and cursors.

Knows nothing of transports, clouds or storage engines; every other layer builds on it.
"""
