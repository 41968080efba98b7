"""Named random streams: the basis of reproducibility and of common random numbers.

A stream is identified by (root seed, replication, stable name). It never depends on the order in which streams
are created, on the strategy, or on the worker that runs the replication, so two strategies that share a channel
draw the same numbers for it, and any executor gives identical results.
"""

import hashlib

import numpy as np


def _name_key(name: str) -> tuple[int, ...]:
    """Four 32-bit words from a hash of the name: stable across processes, unlike ``hash()``."""
    digest = hashlib.blake2b(name.encode("utf-8"), digest_size=16).digest()
    return tuple(int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4))


class Streams:
    """Factory of independent generators for one replication."""

    def __init__(self, seed: int, replication: int) -> None:
        self.seed = int(seed)
        self.replication = int(replication)

    def seed_sequence(self, name: str) -> np.random.SeedSequence:
        return np.random.SeedSequence(entropy=self.seed, spawn_key=(self.replication, *_name_key(name)))

    def generator(self, name: str) -> np.random.Generator:
        """A fresh PCG64 generator for the stream ``name`` (e.g. ``"messenger/broadcast"``)."""
        return np.random.Generator(np.random.PCG64(self.seed_sequence(name)))
