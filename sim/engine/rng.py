"""Named random streams for common random numbers (CRN).

Each random source of the model (issue arrivals, help decisions, handle times, churn ...)
draws from its own stream, derived from (seed, replication, stream name, month) with
:class:`numpy.random.SeedSequence`. Replication r of every policy therefore sees the same
underlying randomness, so policy differences are paired; adding a stream never shifts
another, and results do not depend on which process ran a replication. No global RNG.
"""

from __future__ import annotations

import zlib

import numpy as np

STREAMS = (
    "attributes",  # segment, funding, big-name flags of new customers
    "issues",  # issue counts per customer
    "help",  # ask-for-help and self-resolve decisions
    "tickets",  # arrival times, handle times, patience
    "vip",  # VIP touch times, alerts, outreach
    "ladder",  # satisfaction moves
    "programmes",  # loyalty, proactive and VIP-perk lifts (drawn only when switched on)
    "resentment",  # resentment of customers charged fees
    "feedback",  # survey responses and follow-ups (drawn only when surveys run)
    "churn",  # churn draws
    "trial",  # trial conversion
    "acquisition",  # referrals and word of mouth
)


PILOT_MONTH = 1_000_000  # the month index of a run's pilot month (never a month of the horizon)


def stream_key(name: str) -> int:
    """A stable 32-bit key for a stream name (crc32: same on every machine and Python)."""
    return zlib.crc32(name.encode("utf-8"))


def stream(seed: int, replication: int, name: str, month: int = 0) -> np.random.Generator:
    """The generator for one named stream in one month of one replication (month -1: set-up)."""
    ss = np.random.SeedSequence(entropy=seed, spawn_key=(replication, stream_key(name), month + 1))
    return np.random.Generator(np.random.PCG64(ss))


class Streams:
    """Per-month generators of one replication, created on first use."""

    def __init__(self, seed: int, replication: int, *, independent_of: str | None = None) -> None:
        self.seed = seed
        self.replication = replication
        # independent_of: salt the seed with a policy name to switch CRN off (for the CRN test).
        self._salt = stream_key(independent_of) if independent_of else 0
        self._month = -1
        self._cache: dict[str, np.random.Generator] = {}

    def month(self, month: int) -> None:
        self._month = month
        self._cache.clear()

    def at(self, month: int) -> Streams:
        """The same replication's streams in another month, leaving this object's month alone."""
        other = Streams(self.seed, self.replication)
        other._salt = self._salt
        other.month(month)
        return other

    def __getitem__(self, name: str) -> np.random.Generator:
        gen = self._cache.get(name)
        if gen is None:
            if name not in STREAMS:
                raise KeyError(f"unknown random stream {name!r}")
            gen = stream(self.seed ^ self._salt, self.replication, name, self._month)
            self._cache[name] = gen
        return gen
