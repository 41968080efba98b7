"""Arrays stored relative to their starting values read and write like plain arrays."""

from __future__ import annotations

import numpy as np

from reachsim.model.zeroed import Filled, Identity


def test_filled_and_identity_behave_like_the_arrays_they_stand_for() -> None:
    rng = np.random.default_rng(3)
    size = 1_000
    for lazy, plain in ((Filled(size, -1, np.int32), np.full(size, -1, dtype=np.int64)),
                        (Identity(size, np.int32), np.arange(size))):
        assert not lazy.stored.any()  # nothing written yet: all zeros
        for _ in range(50):
            idx = rng.choice(size, size=20, replace=False)
            values = rng.integers(-5, size, 20)
            lazy[idx] = values
            plain[idx] = values
            mask = rng.random(size) < 0.1
            assert np.array_equal(lazy[idx], plain[idx]) and np.array_equal(lazy[mask], plain[mask])
            a, b = sorted(rng.integers(0, size, 2))
            assert np.array_equal(lazy[a:b], plain[a:b])
        assert np.array_equal(np.asarray(lazy), plain) and len(lazy) == size
