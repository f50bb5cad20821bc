"""Bounded, jittered backoff between a backend's own retries (contention, throttling)."""

from __future__ import annotations

import random
import time


def backoff(attempt: int, base: float = 0.02, cap: float = 1.0) -> None:
    """Sleep a random time up to `base * 2**attempt` seconds, never more than `cap` (full jitter).

    The exponent is clamped so that a loop bounded by time rather than by a
    number of attempts cannot overflow a float however long it runs.
    """
    time.sleep(random.uniform(0, min(cap, base * 2 ** min(attempt, 64))))
