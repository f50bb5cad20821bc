"""The optimistic write loop, written once for the backends whose atomic unit is one guarded write.

A record changes in four steps: read what is stored, build the new record
with the pure rules of `core/records.py`, write it on the condition that the
stored record is still the one read (a version, a `_rev`), and when another
writer got there first, back off and start again, a bounded number of times.

`OptimisticStore` holds those steps for `put`, `increment`, `delete` and
`restore` (the shape of Powertools' `BasePersistenceLayer`: the algorithm
here, the storage calls in the backend). DynamoDB and CouchDB fill it in.
Writes of one process to one record first queue on a striped lock (first come, first
served: `fairlock.FairLock`), so that
the race is only run between processes (separate function instances): threads
of one server incrementing one key would otherwise spend the backend's
capacity on attempts that lose to each other (20 threads x 50 increments of
one key on DynamoDB: 1,817 to 5,187 transactions for 1,000 increments, a few
answered 503 after 15 s of lost races).
The memory and SQLite stores hold a lock or a database transaction instead
and have no race to lose; Firestore runs the same rules inside a Firestore
transaction, whose commit is the guard and whose retries are its own.
"""

from __future__ import annotations

import itertools
import time
import zlib
from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from agent_datastore.core.errors import BackendUnavailable
from agent_datastore.core.records import Record, Scope, Write, apply_write, check_version, increment_write
from agent_datastore.stores.base import Store
from agent_datastore.stores.fairlock import FairLock
from agent_datastore.stores.retry import backoff

S = TypeVar("S")
T = TypeVar("T")

# Locks a process's writes of one record queue on (by the record's hash; unrelated records rarely
# share one, and then only wait for each other's round trips).
STRIPES = 64


class LostRace(Exception):
    """A guarded write found the stored record changed since it was read.

    When the failed write's answer said what is stored now (`reread` False), `stored`
    is that, and the next attempt needs no read of its own.
    """

    def __init__(self, stored: Any = None, *, reread: bool = True) -> None:
        super().__init__("lost a race with another writer")
        self.stored = stored
        self.reread = reread


@dataclass(frozen=True)
class Contention:
    """How many attempts a guarded write gets, and the backoff after each lost race
    (`retry.backoff` after the n-th loss: up to `base * 2**n` seconds, at most `cap`).
    With `seconds`, attempts go on past `attempts` until that long has passed since the first
    (a bound in time, under the request budget, rather than in lost races)."""

    attempts: int
    base: float
    cap: float
    seconds: float = 0.0

    def retry(
        self,
        attempt: Callable[[S], T],
        stored: S,
        reread: Callable[[LostRace], S],
        too_busy: Callable[[], Exception],
        *,
        returned: Callable[[LostRace], S] | None = None,
    ) -> T:
        """`attempt(stored)` until it does not lose a race; after a loss, back off, then
        `reread(race)` gives what to try again on. After the last attempt, `too_busy()`.

        `returned`: what a lost race itself says is stored now (a failed condition's answer), tried
        again at once, with no backoff and no read; used once in a row, since after a backoff it
        is stale (another writer has most likely moved on), and after a backoff a fresh read is."""
        started = time.monotonic()
        immediate = False
        for lost in itertools.count(1):
            try:
                return attempt(stored)
            except LostRace as race:
                if lost >= self.attempts and time.monotonic() - started >= self.seconds:
                    raise too_busy() from race
                if returned is not None and not race.reread and not immediate:
                    stored, immediate = returned(race), True
                    continue
                immediate = False
                backoff(lost, self.base, self.cap)
                stored = reread(race)
        raise AssertionError("unreachable")


class OptimisticStore(Store, Generic[S]):
    """A store whose single-record writes are optimistic; `S` is the stored form of one record
    (an item, a document) as the backend reads it, None where nothing is stored."""

    contention: Contention

    def __init__(self) -> None:
        # This store's own locks: separate stores (as separate processes are) still race.
        self._stripes = [FairLock() for _ in range(STRIPES)]

    @abstractmethod
    def read_stored(self, scope: Scope, key: str, *, with_value: bool) -> S | None:
        """What is stored under `key`; `with_value` False: the value may be left out."""

    @abstractmethod
    def live_record(self, scope: Scope, stored: S | None, now: int, *, with_value: bool) -> Record | None:
        """The live record `stored` holds (None: absent or expired); LostRace when it cannot be
        assembled from what was read (its parts were replaced meanwhile)."""

    @abstractmethod
    def write_stored(self, scope: Scope, stored: S | None, record: Record) -> None:
        """Write `record` over `stored` if that is still what is stored, else raise LostRace."""

    @abstractmethod
    def remove_stored(self, scope: Scope, stored: S, now: int) -> None:
        """Delete `stored` (live or expired) if it is still what is stored, else raise LostRace."""

    @abstractmethod
    def too_busy(self, operation: str, key: str) -> BackendUnavailable:
        """The retryable error once `key` lost every attempt of `operation`."""

    def holds(self, stored: S | None, record: Record) -> bool:
        """Whether `stored` is `record` already, every field (then `restore` writes nothing)."""
        return False

    def blind_put(self, write: Write) -> bool:
        """Whether `put` first tries `write` as a creation, without reading: the backend's guarded
        write of a new record fails on a stored one and answers what is stored (then the write is
        built again on it, as after a lost race). False: read first."""
        return False

    def retry_lost_races(
        self,
        operation: str,
        scope: Scope,
        key: str,
        attempt: Callable[[S | None], T],
        *,
        with_value: bool,
        blind: bool = False,
    ) -> T:
        """Run `attempt` on what is stored under `key` until it wins its race; `blind`: first on
        nothing stored, without a read (what the lost race answers is tried next, at once).
        Other threads of this process writing the same record wait meanwhile."""

        def reread(race: LostRace) -> S | None:
            return self.read_stored(scope, key, with_value=with_value)

        def returned(race: LostRace) -> S | None:
            stored: S | None = race.stored
            return stored

        stripe = zlib.crc32(repr((scope.user_id, scope.namespace, key)).encode("utf-8")) % STRIPES
        with self._stripes[stripe]:
            if blind:
                try:
                    return attempt(None)
                except LostRace as race:
                    first = returned(race) if not race.reread else reread(race)
            else:
                first = self.read_stored(scope, key, with_value=with_value)
            return self.contention.retry(
                attempt, first, reread, lambda: self.too_busy(operation, key), returned=returned
            )

    def put(self, scope: Scope, key: str, write: Write, now: int) -> tuple[Record, bool]:
        def attempt(stored: S | None) -> tuple[Record, bool]:
            existing = self.live_record(scope, stored, now, with_value=False)
            record = apply_write(scope, key, existing, write, now)
            self.write_stored(scope, stored, record)
            return record, existing is None

        return self.retry_lost_races("set", scope, key, attempt, with_value=False, blind=self.blind_put(write))

    def increment(
        self, scope: Scope, key: str, by: int | float, *, agent: str, expires_at: int | None, now: int
    ) -> Record:
        def attempt(stored: S | None) -> Record:
            existing = self.live_record(scope, stored, now, with_value=True)
            record = apply_write(scope, key, existing, increment_write(key, existing, by, agent, expires_at), now)
            self.write_stored(scope, stored, record)
            return record

        return self.retry_lost_races("increment", scope, key, attempt, with_value=True)

    def delete(self, scope: Scope, key: str, *, if_version: int | None, now: int) -> bool:
        def attempt(stored: S | None) -> bool:
            existing = self.live_record(scope, stored, now, with_value=False)
            check_version(key, existing, if_version)
            if stored is None:
                return False
            self.remove_stored(scope, stored, now)  # an expired record goes too
            return existing is not None

        return self.retry_lost_races("delete", scope, key, attempt, with_value=False)

    def restore(self, record: Record) -> None:
        scope = Scope(record.user_id, record.namespace)

        def attempt(stored: S | None) -> None:
            if not self.holds(stored, record):
                self.write_stored(scope, stored, record)

        self.retry_lost_races("restore", scope, record.key, attempt, with_value=False)
