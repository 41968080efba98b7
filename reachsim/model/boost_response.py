"""A boosted post's deliveries, laid out, decided and recorded by two compiled calls around NumPy's exp.

A Page post with paid impressions reaches the fans its organic sightings found and wherever its impressions land:
fans, non-fans and, with repeats, several times the same person (reachsim.channels.page, ``PageChannel._post``).
Its NumPy path — the reference — makes some 130 calls on a few thousand rows, each costing more before it touches
data than its rows cost. The kernels of :mod:`reachsim.model._page_kernels` do the same IEEE operations in the same
order over the same records: ``boost_prepare`` draws the impressions' positions from their uniforms, sorts them,
tells fans from non-fans by the records, lays out one row per person and one per further delivery (the j-th at
F + j) and the arguments of the exps; NumPy takes the exps; ``boost_finish`` decides every delivery by the rule of
:func:`reachsim.model.exposure.respond_once`, writes the records back and returns the consumer rows that the post's
bookkeeping needs. The results are the reference's bit for bit (the tests run shipped and stressed scenarios both
ways), so whether the package was built with a C compiler changes only the speed.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from reachsim.model import fan_response

#: The kinds of target of a boost, as the kernel numbers them: the market's rows, fan positions, or indices into an
#: array of the target's rows (segments).
MARKET, FANS, SEGMENTS = 0, 1, 2


class Layout(NamedTuple):
    """How :meth:`BoostKernel.prepare` laid a post's deliveries out."""

    fans: int  #: base rows of fans (the sighted, then the boosted only)
    size: int  #: base rows in all (the non-fans after the fans)
    deliveries: int  #: base rows and one row per further delivery
    most: int  #: most deliveries to one person
    more: int  #: base rows with further deliveries
    stamped: bool  #: whether the sighted fans were stamped (the boost reached a fan and the post sighted some)
    others: int  #: base rows of non-fans


class Outcome(NamedTuple):
    """Consumer rows (int64) of what a post's deliveries did."""

    each: npt.NDArray[np.int64]  #: one per engagement (a person engaged twice appears twice)
    engaged: npt.NDArray[np.int64]  #: who engaged, once each
    engaged_nonfan: npt.NDArray[np.bool_]  #: whether each of ``engaged`` was not a fan
    unfollowed: npt.NDArray[np.int64]  #: the fans who unfollowed
    first: npt.NDArray[np.int64]  #: those never exposed before (when asked)
    first_fans: int  #: how many of ``first`` were fans


class BoostKernel:
    """The compiled kernels of a boosted post with the scratch they keep from one call to the next: one per Page
    channel (a run's channel is used by one thread)."""

    def __init__(self) -> None:
        if not fan_response.COMPILED:
            raise RuntimeError("reachsim was installed without its compiled kernels (no C compiler at install time)")
        self._kernels = fan_response.kernels()
        self._state = self._kernels.boost_state()
        self._exps = np.empty(0, dtype=np.float32)

    def prepare(
        self,
        impressions: npt.NDArray[np.float64],
        at: npt.NDArray[np.int64],
        population_store: np.ndarray,
        fan_store: np.ndarray,
        sighted: npt.NDArray[np.int32],
        target: npt.NDArray[np.int32] | None,
        target_size: int,
        kind: int,
        stamp: int,
        *,
        t: float,
        strength: float,
        novelty: tuple[float, float] | None,
        increment: np.float32,
    ) -> Layout:
        """Lay out the deliveries of the organic sightings ``at`` (fan positions) and of the impressions whose
        uniforms are ``impressions`` on a target of ``target_size`` (``kind``: :data:`MARKET` rows, :data:`FANS`
        positions, or :data:`SEGMENTS`, indices into ``target``), reading the records; then the exps' arguments,
        and the exps."""
        self._exps = fan_response.exponent_buffer(at.size + impressions.size, strength, novelty)
        half_life, _ = novelty or fan_response.NO_NOVELTY
        fans, size, deliveries, count, most, more, stamped, others = self._kernels.boost_prepare(
            self._state, impressions, at, population_store, fan_store, sighted, target, self._exps, target_size,
            kind, stamp, -strength, bool(strength), novelty is not None, t, fan_response.LN2 / half_life, increment,
        )
        if count:
            exps = self._exps[:count]
            np.exp(exps, out=exps)
        return Layout(fans, size, deliveries, most, more, bool(stamped), others)

    def finish(
        self,
        uniforms: npt.NDArray[np.float64],
        fan_store: np.ndarray,
        population_store: np.ndarray,
        fan_list: npt.NDArray[np.int32],
        *,
        strength: float,
        novelty: tuple[float, float] | None,
        optout: float,
        optout_fatigue_strength: float,
        increment: np.float32,
        first: bool,
    ) -> Outcome:
        """Decide the laid-out deliveries with ``uniforms`` (one each, in the layout's order) and record them."""
        n = uniforms.size
        rows = np.empty(4 * n, dtype=np.int64)
        nonfan = np.empty(n, dtype=np.bool_)
        each, engaged, out, seen = rows[:n], rows[n : 2 * n], rows[2 * n : 3 * n], rows[3 * n :]
        _, floor = novelty or fan_response.NO_NOVELTY
        n_each, n_engaged, n_out, n_first, first_fans = self._kernels.boost_finish(
            self._state, self._exps, uniforms, fan_store, population_store, fan_list, each, engaged, nonfan, out,
            seen, bool(strength), novelty is not None, 1.0 - floor, floor, optout, optout_fatigue_strength,
            increment, first,
        )
        return Outcome(each[:n_each], engaged[:n_engaged], nonfan[:n_engaged], out[:n_out], seen[:n_first],
                       first_fans)
