"""Firestore (native mode): one record per document, a per-user namespace registry.

Layout and the stored form of values are in `firestore_layout.py`. Every
write is one Firestore transaction that reads the record (and its expiry
marker), runs the pure rules of `records.py`, and commits the record, its
marker and a blind `Increment`/`Maximum`/`Minimum` of the namespace's
registry entry: the registry stays exact without becoming a lock that every
writer of a namespace has to wait for.

Expiry: records carry `expire_time` for a Firestore TTL policy and every read
filters by the `now` it is given. A TTL deletion does not tell the registry,
so each expiring record has a small marker document (no TTL) in a sibling
collection; `purge_expired` walks the markers that are due, removes their
records if the TTL policy has not yet, and corrects the registry in the same
transaction. The registry entry's `next_expiry` (a lower bound of the
namespace's earliest expiry) lets `list_namespaces` and `stats` skip all of
that unless something has actually expired.

The store is assembled from one module per job:

    firestore_base.py      client, document references, SDK errors, transactions, batched reads
    firestore_writes.py    put, put_many, delete, increment, restore (staged in one transaction each)
    firestore_reads.py     get, get_many, list_keys, scan
    firestore_registry.py  list_namespaces, stats, users, purge_expired, clear
"""

from __future__ import annotations

from agent_datastore.core.settings import Settings
from agent_datastore.stores.firestore.reads import FirestoreReads
from agent_datastore.stores.firestore.registry import FirestoreRegistry


class FirestoreStore(FirestoreReads, FirestoreRegistry):
    name = "firestore"


def from_settings(settings: Settings) -> FirestoreStore:
    """Project from GOOGLE_CLOUD_PROJECT, emulator from FIRESTORE_EMULATOR_HOST (both read by the SDK)."""
    return FirestoreStore(settings.firestore_collection, database=settings.firestore_database)
