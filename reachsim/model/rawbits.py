"""Raw random bits: which bit generators give 64 uniform bits per raw draw, and 16-bit words cut from them.

Drawing many small random numbers through ``Generator`` methods costs a call per array and a conversion per
value; a hot path that needs only a few bits per value can cut them from ``bit_generator.random_raw`` instead,
provided each raw draw holds 64 uniform bits (MT19937's holds 32, so it is not listed).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

RAW64 = (np.random.PCG64, np.random.PCG64DXSM, np.random.SFC64, np.random.Philox)
"""Bit generators whose raw output is 64 uniform bits."""


def has_raw64(rng: np.random.Generator) -> bool:
    """Whether ``rng``'s raw draws are 64 uniform bits each."""
    return isinstance(rng.bit_generator, RAW64)


def words16(rng: np.random.Generator, count: int) -> npt.NDArray[np.uint16]:
    """``count`` independent uniform 16-bit words, four to a raw draw (low word first, on any machine); the
    words left over in the last raw draw are discarded. Needs a generator with :func:`has_raw64`."""
    raw = rng.bit_generator.random_raw((count + 3) // 4)
    return raw.astype("<u8", copy=False).view("<u2")[:count]
