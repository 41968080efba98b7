"""A post's deliveries to the fans it reaches, one each, decided and recorded in the fans' records.

A Page keeps each fan's exposure state as one 16-byte record (reachsim.channels.page): the fatigue stock scaled to a
reference time, the engagement probability before fatigue and novelty, fan since (float32) and exposures (uint32).
A post without paid impressions reaches some fans at positions ``at`` of the store, one delivery each, and each
delivery is decided with the shared engagement rule of :func:`reachsim.model.exposure.respond_once`: engaged when
``U < p``, ``p = exp(−s·F)·novelty·probability`` with ``novelty = floor + (1 − floor)·2^(−age/h)``, and opted out
(unfollowed) with ``q = min(1, optout·(1 + optout_fatigue_strength·F))`` by the same uniform. Then the stock gains
one delivery and the exposures one.

Two implementations give the same results bit for bit. The reference is NumPy's: a gather of the records, some
thirty whole-array calls, a scatter; in a run each call costs more before it touches data than the few thousand
fans cost, so when the package was built with a C compiler :mod:`reachsim.model._page_kernels` does the same
IEEE operations in one pass over the records (the exps stay NumPy's, one call between its two). Results never
depend on which one ran: the tests hold the two to each other on random records, on uniforms placed on the
engagement probabilities themselves, and on whole runs of shipped scenarios.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from reachsim.model.exposure import respond_once

try:  # built from _page_kernels.c when the package is installed with a C compiler
    from reachsim.model import _page_kernels as _compiled
except ImportError:  # pragma: no cover - the reference then serves
    _compiled = None

#: Whether the compiled kernels are available (else :func:`respond_fans` and the Page's boosted posts use NumPy's
#: reference).
COMPILED = _compiled is not None


def kernels() -> Any:
    """The compiled kernels' module (:mod:`reachsim.model._page_kernels`); only when :data:`COMPILED`."""
    return _compiled


LN2 = math.log(2.0)
_NONE = np.empty(0, dtype=np.int64)
#: The (half-life, floor) the kernels are given without novelty: never read then, but each takes a number.
NO_NOVELTY = (1.0, 0.0)


def exponent_buffer(n: int, strength: float, novelty: tuple[float, float] | None) -> npt.NDArray[np.float32]:
    """Room for the exps' arguments of ``n`` deliveries, as the kernels lay them out: ``n`` for the fatigue when it
    acts, then ``n`` for the novelty when there is one."""
    return np.empty((n if strength else 0) + (n if novelty is not None else 0), dtype=np.float32)


def novelty_factor(since: np.ndarray, t: float, half_life: float, floor: float) -> np.ndarray:
    """The novelty factor at ``t`` of fans since ``since`` (float32, a new array): floor + (1 − floor)·2^(−age/h),
    as e^(−age·ln 2/h) (NumPy's float32 exp is the vectorised one)."""
    factor = np.subtract(since, np.float32(t))  # minus the age
    np.multiply(factor, np.float32(LN2 / half_life), out=factor)
    np.exp(factor, out=factor)
    factor *= np.float32(1.0 - floor)
    factor += np.float32(floor)
    return factor


def respond_fans(
    store: np.ndarray,
    at: npt.NDArray[np.int64],
    uniforms: npt.NDArray[np.float64],
    people: npt.NDArray[np.int32],
    *,
    t: float,
    strength: float,
    novelty: tuple[float, float] | None,
    optout: float,
    optout_fatigue_strength: float,
    stock_bound: float,
    increment: np.float32,
    first: bool,
    compiled: bool | None = None,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """One delivery to each record of ``store`` (float32, shape (size, 4), C order) at the distinct positions
    ``at`` (int64), decided by ``uniforms`` (float64, one each), recorded in place; returns the consumer rows
    (``people[position]``, int64, in the order of ``at``) of those who engaged, who opted out and, if ``first``,
    who were never exposed before.

    ``strength`` and ``optout_fatigue_strength`` act on the stocks as stored; ``stock_bound`` is at least every
    stock (the opt-out candidates' bound, as in respond_once); ``novelty`` is (half-life, floor) or None; the
    stock gains ``increment`` (float32). ``compiled``: None uses the compiled implementation when there is one,
    False NumPy's, True insists on the compiled one."""
    if strength < 0 or optout < 0 or optout > 1 or optout_fatigue_strength < 0:
        raise ValueError("strength and optout_fatigue_strength must be >= 0 and optout within [0, 1]")
    if compiled is None:
        compiled = COMPILED
    elif compiled and not COMPILED:
        raise RuntimeError("reachsim was installed without its compiled kernels (no C compiler at install time)")
    if compiled:
        n = at.size
        half_life, floor = novelty or NO_NOVELTY
        exps = exponent_buffer(n, strength, novelty)
        if exps.size:
            _compiled.exponents(store, at, exps, -strength, bool(strength), novelty is not None, t, LN2 / half_life)
            np.exp(exps, out=exps)
        out = np.empty(3 * n, dtype=np.int64)
        n_engaged, n_opted, n_first = _compiled.respond(
            store, at, exps, uniforms, people, out, bool(strength), novelty is not None, 1.0 - floor, floor,
            optout, optout_fatigue_strength, stock_bound, increment, first,
        )
        return out[:n_engaged], out[n : n + n_opted], out[2 * n : 2 * n + n_first]
    # the reference: the records gathered, decided by respond_once, updated and scattered back
    size = at.size
    records = store.view(np.complex128).reshape(store.shape[0])  # one 16-byte record each
    record = records[at]
    state = record.view(np.float32).reshape(size, 4)
    probability = state[:, 1]  # as stored (base × multiplier), read in place
    if novelty is not None:  # by days since they became fans
        factor = novelty_factor(state[:, 2], t, *novelty)
        factor *= probability
        probability = factor
    seen = state.view(np.uint32)[:, 3]
    never = (seen == 0).nonzero()[0] if first else _NONE
    engaged, opted = respond_once(
        None, state[:, 0], probability, uniforms=uniforms, strength=strength,  # type: ignore[arg-type]
        optout=optout, optout_fatigue_strength=optout_fatigue_strength, stock_bound=stock_bound,
    )
    state[:, 0] += increment
    seen += np.uint32(1)
    records[at] = record
    return tuple(people[at[rows]].astype(np.int64) for rows in (engaged, opted, never))  # type: ignore[return-value]
