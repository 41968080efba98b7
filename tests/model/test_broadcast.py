"""The Messenger broadcast kernel against the semantics of DESIGN.md and their closed forms.

Statistical checks use seeded generators and a tolerance of four standard errors (SE) derived from the
binomial (or multinomial) law of the counts involved, so a correct kernel fails with probability below ~1e-4
per check and a biased one is caught once its bias exceeds four SE.
"""

import copy
import math

import numpy as np
import pytest

from reachsim.model.broadcast import (
    DEFAULT_BLOCK,
    LEFT,
    NEVER_MEMBER,
    BroadcastColumns,
    broadcast,
    joiner_novelty,
)

Z = 4.0  # tolerance in standard errors
INF = math.inf

NO_EFFECTS = dict(
    floor=1.0,
    novelty_half_life=INF,
    fatigue_half_life=INF,
    strength=0.0,
    optout=0.0,
    optout_fatigue_strength=0.0,
)


def params(**changes: float) -> dict[str, float]:
    """Broadcast parameters with novelty, fatigue and opt-out switched off unless ``changes`` sets them."""
    p = dict(NO_EFFECTS, base=0.3)
    p.update(changes)
    return p


def subscribed(
    n: int, *, t: float = 0.0, weight: float | np.ndarray = 1.0, h_n: float = INF
) -> BroadcastColumns:
    cols = BroadcastColumns(n, t0=t)
    cols.join(np.arange(n), t, novelty_half_life=h_n, weight=weight)
    return cols


def by_row(cols: BroadcastColumns, name: str, fill: float = np.nan) -> np.ndarray:
    """A member column laid out by population row (``fill`` for non-members), for assertions."""
    out = np.full(cols.size, fill, dtype=np.float64)
    out[cols.members] = cols.column(name)
    return out


def active(cols: BroadcastColumns) -> np.ndarray:
    return cols.slot_of[:] >= 0


def within(observed: float, expected: float, se: float) -> bool:
    return abs(observed - expected) <= Z * se


def binomial_se(n: float, p: float) -> float:
    return math.sqrt(n * p * (1.0 - p))


# ------------------------------------------------------------------------------------------------------------
# A straightforward reference: per-subscriber times, float64, the DESIGN.md formulas delivery by delivery.


class Reference:
    """Keeps each subscriber's join time, last delivery time and stock; two independent draws per delivery."""

    def __init__(self, n: int) -> None:
        self.active = np.zeros(n, dtype=bool)
        self.weight = np.zeros(n)
        self.join_time = np.zeros(n)
        self.last = np.zeros(n)
        self.stock = np.zeros(n)
        self.exposures = np.zeros(n, dtype=np.int64)

    def join(self, idx: np.ndarray, t: float, weight: np.ndarray) -> None:
        self.active[idx] = True
        self.weight[idx] = weight
        self.join_time[idx] = t
        self.last[idx] = t
        self.stock[idx] = 0.0

    def broadcast(self, t: float, rng: np.random.Generator, p: dict[str, float]) -> tuple[int, int, int, int]:
        i = np.flatnonzero(self.active)
        self.stock[i] *= np.exp2(-(t - self.last[i]) / p["fatigue_half_life"])
        novelty = p["floor"] + (1 - p["floor"]) * np.exp2(-(t - self.join_time[i]) / p["novelty_half_life"])
        prob = np.minimum(1.0, p["base"] * self.weight[i] * novelty * np.exp(-p["strength"] * self.stock[i]))
        q = np.minimum(1.0, p["optout"] * (1.0 + p["optout_fatigue_strength"] * self.stock[i]))
        engaged = rng.random(i.size) < prob
        out = rng.random(i.size) < q
        newly = int(np.count_nonzero(self.exposures[i] == 0))
        self.stock[i] += 1.0
        self.last[i] = t
        self.exposures[i] += 1
        self.active[i[out]] = False
        return i.size, newly, int(engaged.sum()), int(out.sum())


def _weights(rows: np.ndarray) -> np.ndarray:
    """Three segments; the 4.0 one pushes base·weight·novelty above 1, so the cap min(1, ·) is exercised."""
    return np.choose(rows % 3, [0.8, 1.6, 4.0])


SCHEDULE = [1.0, 3.5, 4.0, 9.0, 12.0, 12.0, 20.0, 26.5, 33.0, 40.0]  # irregular, with a repeated time
JOINS = {10.5: np.arange(2000, 3000), 23.0: np.arange(3000, 3500)}  # rows 3500.. never join
REFERENCE_PARAMS = dict(
    base=0.3,
    floor=0.3,
    novelty_half_life=10.0,
    fatigue_half_life=3.0,
    strength=0.5,
    optout=0.02,
    optout_fatigue_strength=1.5,
)


def _run(kernel: bool, seed: int) -> np.ndarray:
    """One replication: per broadcast (deliveries, newly reached, engaged, opted out)."""
    rng = np.random.default_rng(seed)
    n = 4096 + 1000  # with block=1024 the last block has no active row and is skipped
    first = np.arange(2000)
    opted: list[np.ndarray] = []
    if kernel:
        cols = BroadcastColumns(n)
        cols.join(first, 0.0, novelty_half_life=10.0, weight=_weights(first))
    else:
        ref = Reference(n)
        ref.join(first, 0.0, _weights(first))
    rows = []
    pending = dict(JOINS)
    for t in SCHEDULE:
        for tj in sorted(tj for tj in pending if tj <= t):
            new = pending.pop(tj)
            back = (
                np.concatenate(opted) if tj == 23.0 else np.empty(0, dtype=np.int64)
            )  # returning subscribers
            who = np.concatenate([new, back])
            if kernel:
                cols.join(who, tj, novelty_half_life=10.0, weight=_weights(who))
            else:
                ref.join(who, tj, _weights(who))
        if kernel:
            o = broadcast(cols, t, rng=rng, block=1024, **REFERENCE_PARAMS)
            rows.append((o.deliveries, o.newly_reached, o.engaged.size, o.opted_out.size))
            opted.append(o.opted_out)
        else:
            before = ref.active.copy()
            rows.append(ref.broadcast(t, rng, REFERENCE_PARAMS))
            opted.append(np.flatnonzero(before & ~ref.active))
    return np.array(rows, dtype=float)


def test_kernel_agrees_in_distribution_with_a_per_delivery_reference():
    reps = 120
    kern = np.stack([_run(True, 1000 + r) for r in range(reps)])
    ref = np.stack([_run(False, 5000 + r) for r in range(reps)])
    # newly reached is deterministic: the first-time joiners of each broadcast
    assert (kern[:, :, 1] == kern[0, :, 1]).all()
    assert (kern[0, :, 1] == ref[0, :, 1]).all()
    assert kern[0, :, 1].tolist() == [2000, 0, 0, 0, 1000, 0, 0, 500, 0, 0]
    for column, name in [(0, "deliveries"), (2, "engaged"), (3, "opted out")]:
        k, r = kern[:, :, column], ref[:, :, column]
        se = np.sqrt(k.var(axis=0, ddof=1) / reps + r.var(axis=0, ddof=1) / reps)
        se = np.maximum(se, 0.5)  # deliveries of the first broadcast are deterministic
        diff = k.mean(axis=0) - r.mean(axis=0)
        assert (np.abs(diff) <= Z * se).all(), (name, diff / se)
        totals_k, totals_r = k.sum(axis=1), r.sum(axis=1)
        se_total = math.sqrt(totals_k.var(ddof=1) / reps + totals_r.var(ddof=1) / reps)
        assert within(totals_k.mean(), totals_r.mean(), se_total), name


# ------------------------------------------------------------------------------------------------------------
# Closed forms.


def test_constant_probability_gives_binomial_engagements():
    s, k, p = 20_000, 10, 0.3
    cols = subscribed(s)
    rng = np.random.default_rng(1)
    engaged = 0
    for j in range(k):
        o = broadcast(cols, float(j), rng=rng, **params(base=p))
        assert o.deliveries == s
        assert o.newly_reached == (s if j == 0 else 0)
        assert o.opted_out.size == 0
        engaged += o.engaged.size
    assert within(engaged, s * p * k, binomial_se(s * k, p))
    assert (cols.column("exposures") == k).all() and cols.n == s


def test_constant_optout_leaves_geometric_survivors():
    s, k, u = 20_000, 10, 0.05
    cols = subscribed(s)
    rng = np.random.default_rng(2)
    alive = s
    for j in range(k):
        o = broadcast(cols, 7.0 * j, rng=rng, **params(optout=u))
        assert o.deliveries == alive
        assert (cols.slot_of[o.opted_out] == LEFT).all()
        alive -= o.opted_out.size
    survival = (1 - u) ** k
    assert alive == cols.n == np.count_nonzero(active(cols))
    assert within(alive, s * survival, binomial_se(s, survival))


def test_periodic_broadcasts_reach_the_fatigue_steady_state():
    s, d, h, strength, base = 20_000, 2.0, 3.0, 0.5, 0.4
    r = 2 ** (-d / h)
    p_ss = base * math.exp(-strength * r / (1 - r))
    cols = subscribed(s)
    rng = np.random.default_rng(3)
    engaged = deliveries = 0
    for j in range(40):  # r^20 < 1e-4: the last 20 broadcasts are at the steady state
        o = broadcast(cols, d * j, rng=rng, **params(base=base, fatigue_half_life=h, strength=strength))
        if j >= 20:
            engaged += o.engaged.size
            deliveries += o.deliveries
    assert within(engaged, deliveries * p_ss, binomial_se(deliveries, p_ss))
    assert np.allclose(cols.column("fatigue"), 1 / (1 - r), rtol=1e-5)  # stock after the last +1
    assert cols.fatigue_bound == pytest.approx(1 / (1 - r), rel=1e-6)


@pytest.mark.parametrize("t", [0.0, 2.5, 5.0, 10.0, 20.0])
def test_novelty_of_a_cohort_decays_to_the_floor(t):
    s, floor, h, base = 20_000, 0.2, 5.0, 0.5
    cols = subscribed(s, h_n=h)
    rng = np.random.default_rng(4)
    o = broadcast(cols, t, rng=rng, **params(base=base, floor=floor, novelty_half_life=h))
    p = base * (floor + (1 - floor) * 2 ** (-t / h))
    assert within(o.engaged.size, s * p, binomial_se(s, p))


@pytest.mark.parametrize(
    ("weight", "optout", "seed"),
    [
        (1.0, 0.3, 5),  # large q: the prefilter keeps ~60% of the rows
        (
            np.where(np.arange(200_000) % 2 == 0, 1.0, 5.0),
            0.02,
            6,
        ),  # small q; odd rows have p = min(1, 2) = 1
    ],
)
def test_engagement_and_optout_are_independent(weight, optout, seed):
    s, base = 200_000, 0.4
    cols = subscribed(s, weight=weight)
    o = broadcast(cols, 1.0, rng=np.random.default_rng(seed), **params(base=base, optout=optout))
    eng = np.zeros(s, dtype=bool)
    out = np.zeros(s, dtype=bool)
    eng[o.engaged] = True
    out[o.opted_out] = True
    p_row = np.minimum(1.0, base * np.broadcast_to(weight, s))
    for group in np.unique(p_row):
        g = p_row == group
        n = int(g.sum())
        cells = {
            (True, True): group * optout,
            (True, False): group * (1 - optout),
            (False, True): (1 - group) * optout,
            (False, False): (1 - group) * (1 - optout),
        }
        for (e, q), prob in cells.items():
            count = np.count_nonzero(g & (eng == e) & (out == q))
            assert within(count, n * prob, max(binomial_se(n, prob), 0.5)), (group, e, q, count, n * prob)


def test_optout_grows_with_the_steady_fatigue_stock():
    s, d, h, u, fs = 100_000, 7.0, 7.0, 0.01, 2.0
    r = 2 ** (-d / h)
    q_ss = u * (1 + fs * r / (1 - r))  # 0.03
    cols = subscribed(s)
    rng = np.random.default_rng(7)
    deliveries = out = 0
    for j in range(20):  # from the 12th broadcast on, the stock is within 3e-4 of r/(1 − r)
        o = broadcast(
            cols, d * j, rng=rng, **params(fatigue_half_life=h, optout=u, optout_fatigue_strength=fs)
        )
        if j >= 12:
            deliveries += o.deliveries
            out += o.opted_out.size
    assert within(out, deliveries * q_ss, binomial_se(deliveries, q_ss))


# ------------------------------------------------------------------------------------------------------------
# State handling.


def test_inactive_rows_never_engage_nor_count():
    n = 5_000
    cols = BroadcastColumns(n)
    even = np.arange(0, n, 2)
    cols.join(even, 0.0, novelty_half_life=INF, weight=10.0)  # p = min(1, 3) = 1
    cols.leave(even[:100])
    rng = np.random.default_rng(8)
    o = broadcast(cols, 1.0, rng=rng, block=512, **params(optout=0.5))
    assert o.deliveries == o.newly_reached == even.size - 100
    assert np.array_equal(np.sort(o.engaged), even[100:])
    assert np.array_equal(np.sort(o.reached), even[100:])
    assert (o.opted_out % 2 == 0).all() and (o.opted_out >= 200).all()
    assert np.unique(o.opted_out).size == o.opted_out.size
    exposures = cols.exposure_counts()
    assert (exposures[1::2] == 0).all() and (exposures[:200] == 0).all()
    assert (cols.slot_of[o.opted_out] == LEFT).all() and (cols.slot_of[even[:100]] == LEFT).all()
    assert (cols.slot_of[1::2] == NEVER_MEMBER).all()
    assert cols.n == np.count_nonzero(active(cols)) == even.size - 100 - o.opted_out.size


def test_a_population_without_subscribers_is_a_no_op():
    cols = BroadcastColumns(10_000)
    o = broadcast(cols, 3.0, rng=np.random.default_rng(9), **params(optout=0.1))
    assert (o.deliveries, o.newly_reached, o.engaged.size, o.opted_out.size) == (0, 0, 0, 0)
    assert cols.t_last == 3.0 and cols.fatigue_bound == 0.0


def test_join_resets_state_and_keeps_lifetime_exposures():
    h_n, h_f = 10.0, 4.0
    p = params(floor=0.5, novelty_half_life=h_n, fatigue_half_life=h_f, strength=0.3)
    cols = subscribed(100, h_n=h_n)
    rng = np.random.default_rng(10)
    for t in (1.0, 2.0, 3.0):
        broadcast(cols, t, rng=rng, **p)
    # the stored state is "as of the last broadcast" (t = 3), after that broadcast's + 1
    f = 1.0
    for dt in (1.0, 1.0):
        f = f * 2 ** (-dt / h_f) + 1
    assert np.allclose(cols.column("fatigue"), f, rtol=1e-6)
    assert np.allclose(cols.column("novelty"), 2 ** (-3.0 / h_n), rtol=1e-6)

    cols.leave([5, 6])
    cols.join([5, 7], 4.5, novelty_half_life=h_n, weight=2.0)  # 5 returns, 7 re-subscribes while active
    is_member = active(cols)
    assert is_member[5] and not is_member[6] and is_member[7]
    fatigue, weight, novelty = by_row(cols, "fatigue"), by_row(cols, "weight"), by_row(cols, "novelty")
    assert fatigue[5] == fatigue[7] == 0.0
    assert weight[5] == weight[7] == 2.0
    assert novelty[5] == pytest.approx(2 ** (1.5 / h_n), rel=1e-6)  # above 1: joined after t_last
    assert by_row(cols, "exposures")[5] == 3
    cols.join([50], 4.5, novelty_half_life=h_n)  # row 50 again (still active, reached)
    o = broadcast(cols, 5.0, rng=rng, **p)
    assert o.newly_reached == 0  # returning subscribers were reached before
    assert o.deliveries == 99
    assert by_row(cols, "fatigue")[5] == 1.0
    assert by_row(cols, "novelty")[5] == pytest.approx(2 ** (-0.5 / h_n), rel=1e-6)
    assert cols.exposure_counts()[5] == 4 and cols.exposure_counts()[6] == 3


def test_newly_reached_counts_first_deliveries_only():
    cols = BroadcastColumns(1_000)
    rng = np.random.default_rng(11)
    cols.join(np.arange(300), 0.0, novelty_half_life=INF)
    cols.join(np.arange(200, 400), 0.5, novelty_half_life=INF)  # overlaps: 400 distinct rows
    cols.leave([399])
    assert broadcast(cols, 1.0, rng=rng, **params()).newly_reached == 399
    cols.join(np.arange(395, 410), 1.5, novelty_half_life=INF)  # 395..398 were reached; 399 left before it
    assert broadcast(cols, 2.0, rng=rng, **params()).newly_reached == 11
    assert broadcast(cols, 3.0, rng=rng, **params()).newly_reached == 0


def test_infinite_half_lives_never_decay():
    cols = subscribed(1_000)
    rng = np.random.default_rng(12)
    for j in range(5):
        broadcast(cols, 3.0 * j, rng=rng, **params(strength=0.2, optout=0.001))
    assert (cols.column("fatigue") == 5.0).all()
    assert (cols.column("novelty") == 1.0).all()
    assert cols.fatigue_bound == 5.0


def test_joining_after_a_long_silence_rebases_novelty():
    h = 2.0
    cols = subscribed(10, h_n=h)
    cols.join([9], 1_000.0, novelty_half_life=h)  # 500 half-lives later: 2^500 would overflow float32
    assert cols.t_novelty == 1_000.0
    novelty = by_row(cols, "novelty")
    assert np.isfinite(novelty).all()
    assert novelty[9] == 1.0 and (novelty[:9] == 0.0).all()
    o = broadcast(
        cols, 1_000.0, rng=np.random.default_rng(13), **params(base=1.0, floor=0.0, novelty_half_life=h)
    )
    assert o.engaged.tolist() == [9]  # only the newcomer has any novelty left


def test_joiner_novelty_helper():
    assert joiner_novelty([3.0, 5.0], 3.0, 2.0).tolist() == [1.0, 2.0]
    assert joiner_novelty(7.0, 3.0, INF) == 1.0
    assert joiner_novelty(0.0, 4.0, 4.0).dtype == np.float32


def test_memory_budget():
    cols = subscribed(200_000)
    assert cols.nbytes_per_member() <= 20  # per member slot; slot_of adds 4 bytes per consumer
    broadcast(cols, 1.0, rng=np.random.default_rng(14), **params(optout=0.01))
    assert cols.scratch_nbytes() <= 16 * DEFAULT_BLOCK


def test_same_generator_state_same_outcome():
    def run(seed: int, block: int) -> tuple[np.ndarray, ...]:
        cols = subscribed(10_000, weight=np.linspace(0.5, 2.0, 10_000), h_n=30.0)
        rng = np.random.default_rng(seed)
        outs = [
            broadcast(cols, t, rng=rng, block=block, **REFERENCE_PARAMS | {"novelty_half_life": 30.0})
            for t in (1.0, 8.0)
        ]
        return (*[x for o in outs for x in (o.engaged, o.opted_out)], cols.slot_of, *(
            cols.column(c) for c in ("row", "fatigue", "novelty")))

    a, b = run(15, 4096), run(15, 4096)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(run(16, 4096)[0], a[0])


@pytest.mark.parametrize(
    "bit_generator",
    [np.random.PCG64, np.random.PCG64DXSM, np.random.SFC64, np.random.Philox, np.random.MT19937],
)
def test_uniforms_match_numpy_float32_stream(bit_generator):
    """All active, even block sizes: the kernel's uniforms are exactly ``rng.random(n, dtype=np.float32)``."""
    s, p = 4_096, 0.37
    cols = subscribed(s)
    o = broadcast(cols, 0.0, rng=np.random.Generator(bit_generator(17)), block=1_024, **params(base=p))
    u = np.random.Generator(bit_generator(17)).random(s, dtype=np.float32)
    assert np.array_equal(o.engaged, np.flatnonzero(u < np.float32(p)))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"base": -0.1}, "base must be a finite number >= 0"),
        ({"floor": 1.5}, r"floor must be within \[0, 1\]"),
        ({"optout": 2.0}, r"optout must be within \[0, 1\]"),
        ({"fatigue_half_life": 0.0}, "fatigue_half_life must be > 0 days"),
        ({"novelty_half_life": float("nan")}, "novelty_half_life must be > 0 days"),
        ({"strength": INF}, "strength must be a finite number >= 0"),
    ],
)
def test_invalid_parameters_are_rejected(change, message):
    cols = subscribed(10)
    with pytest.raises(ValueError, match=message):
        broadcast(cols, 1.0, rng=np.random.default_rng(0), **params(**change))


def test_join_accepts_masks_and_rejects_bad_weights():
    cols = BroadcastColumns(6)
    cols.join(
        np.array([True, False, True, False, False, False]), 0.0, novelty_half_life=INF, weight=[1.0, 2.0]
    )
    assert active(cols).tolist() == [True, False, True, False, False, False]
    assert by_row(cols, "weight")[[0, 2]].tolist() == [1.0, 2.0]
    cols.leave(active(cols))
    assert not active(cols).any() and cols.n == 0
    with pytest.raises(ValueError, match="weight must be finite and >= 0"):
        cols.join([1], 0.0, novelty_half_life=INF, weight=-1.0)
    with pytest.raises(ValueError, match="join time must be finite"):
        cols.join([1], math.nan, novelty_half_life=INF)


def test_broadcasts_cannot_go_back_in_time():
    cols = subscribed(10)
    broadcast(cols, 5.0, rng=np.random.default_rng(0), **params())
    with pytest.raises(ValueError, match=r"broadcast time 4\.0 is before the last broadcast at 5\.0"):
        broadcast(cols, 4.0, rng=np.random.default_rng(0), **params())


# ------------------------------------------------------------------------------------------------------------
# The audience-indexed layout: dense slots, swap-removal, channel columns.


def _check_layout(cols: BroadcastColumns, members: set[int], exposures: dict[int, int], tag: dict[int, float]):
    """Slots hold exactly the members, ``slot_of`` inverts ``row``, and every column followed its member."""
    rows = cols.members
    assert set(rows.tolist()) == members and rows.size == len(members)
    assert np.array_equal(cols.slot_of[rows], np.arange(cols.n))
    outside = np.ones(cols.size, dtype=bool)
    outside[rows] = False
    assert (cols.slot_of[outside] < 0).all()
    assert 0 <= cols.fresh <= cols.n
    tags = cols.column("tag")
    assert all(tags[i] == tag[r] for i, r in enumerate(rows.tolist()))
    counts = cols.exposure_counts()
    assert all(counts[r] == exposures.get(r, 0) for r in range(cols.size))


def test_random_joins_leaves_and_broadcasts_keep_the_layout_consistent():
    size, rng, ops = 300, np.random.default_rng(21), np.random.default_rng(22)
    cols = BroadcastColumns(size)
    cols.add_column("tag", np.float64, fill=-1.0)
    members: set[int] = set()
    exposures: dict[int, int] = {}
    tag: dict[int, float] = {}
    t = 0.0
    for step in range(300):
        t += 0.25
        action = ops.integers(4)
        if action == 0:  # join, with repeats and current members among the rows
            rows = ops.integers(0, size, size=int(ops.integers(0, 40)))
            cols.join(rows, t, novelty_half_life=5.0, weight=ops.random(rows.size))
            for r in rows.tolist():
                if r not in members:
                    tag[r] = -1.0
                members.add(r)
        elif action == 1:
            rows = ops.integers(0, size, size=int(ops.integers(0, 20)))
            cols.leave(rows)
            members -= set(rows.tolist())
        elif action == 2:  # write a value a member carries with it
            for r in cols.members[:: max(1, cols.n // 7)].tolist():
                tag[r] = float(step)
                cols.column("tag")[cols.slot_of[r]] = float(step)
        else:
            before = set(members)
            o = broadcast(cols, t, rng=rng, stamp={"tag": 1000.0 + step},
                          **params(base=0.3, optout=0.2, fatigue_half_life=2.0))
            assert o.deliveries == len(before)
            assert set(o.reached.tolist()) == {r for r in before if exposures.get(r, 0) == 0}
            for r in before:
                exposures[r] = exposures.get(r, 0) + 1
            for r in o.engaged.tolist():
                tag[r] = 1000.0 + step
            assert set(o.opted_out.tolist()) <= before
            members -= set(o.opted_out.tolist())
        _check_layout(cols, members, exposures, tag)


def test_a_broadcast_touches_the_members_only():
    """Deliveries, uniforms drawn and scratch follow the audience: 100 members of a million consumers."""
    cols = BroadcastColumns(1_000_000)
    cols.join(np.arange(0, 1_000_000, 10_000), 0.0, novelty_half_life=INF)
    rng = np.random.default_rng(23)
    state = rng.bit_generator.state["state"]["state"]
    o = broadcast(cols, 1.0, rng=rng, **params())
    assert o.deliveries == 100 and cols.capacity < 2_000 and cols.scratch_nbytes() <= 15 * 100
    after = np.random.default_rng(23)
    after.bit_generator.random_raw(50)  # 100 float32 uniforms = 50 raw draws
    assert rng.bit_generator.state["state"]["state"] == after.bit_generator.state["state"]["state"] != state


def test_a_row_given_twice_joins_once():
    cols = BroadcastColumns(10)
    cols.join([3, 4, 3], 0.0, novelty_half_life=INF, weight=[1.0, 2.0, 3.0])
    assert cols.n == 2 and sorted(cols.members.tolist()) == [3, 4]
    assert by_row(cols, "weight")[3] == 3.0  # the last entry wins
    assert broadcast(cols, 1.0, rng=np.random.default_rng(0), **params()).deliveries == 2


def test_count_above_counts_members():
    cols = BroadcastColumns(200_000)
    cols.add_column("until", np.float32, fill=-np.inf)
    cols.join(np.arange(150_000), 0.0, novelty_half_life=INF)
    cols.column("until")[::3] = 5.0
    assert cols.count_above("until", 4.0) == 50_000
    assert cols.count_above("until", 5.0) == 0


def test_whole_market_joins_in_pieces_and_grows_without_copies_beyond_the_population():
    size = 3_000_000
    cols = BroadcastColumns(size)
    cols.join(np.arange(size), 0.0, novelty_half_life=INF, weight=np.float32(1.5))
    assert cols.n == cols.capacity == size
    assert (cols.column("weight") == 1.5).all()


def test_the_first_broadcast_after_a_large_join_copies_the_audience_at_most_once():
    """Peak extra memory of that broadcast stays below one int64 index array of the members (8 bytes each): the
    rows reached for the first time are one int32 copy; everything else is block-sized or proportional to the
    engaged."""
    import tracemalloc

    n = 2_000_000
    cols = BroadcastColumns(n)
    cols.join(np.arange(n), 0.0, novelty_half_life=INF, weight=np.float32(1.0))
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        o = broadcast(cols, 1.0, rng=np.random.default_rng(24), **params(base=0.05, optout=0.001))
        peak = tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()
    assert o.newly_reached == n
    assert peak < 8 * n, peak / n


def test_new_joins_skip_the_membership_checks_but_not_distinctness():
    cols = BroadcastColumns(100)
    cols.join(np.array([7, 3, 9]), 0.0, novelty_half_life=INF, weight=np.float32(2.0), new=True)
    assert cols.members.tolist() == [7, 3, 9] and (cols.slot_of[[7, 3, 9]] == [0, 1, 2]).all()
    with pytest.raises(ValueError, match="distinct"):
        cols.join(np.array([5, 1, 5]), 1.0, novelty_half_life=INF, new=True)
    with pytest.raises(ValueError, match="distinct"):  # a refused join leaves every member's slot as it was
        cols.join(np.array([3, 8, 8]), 1.0, novelty_half_life=INF, new=True)
    assert cols.slot_of[[7, 3, 9]].tolist() == [0, 1, 2] and cols.n == 3
    assert (cols.slot_of[[1, 5, 8]] == cols.slot_of[0]).all()  # never members, as before the refused joins


@pytest.mark.parametrize("half_life", [INF, 30.0, 0.5])
def test_a_join_in_runs_leaves_the_state_of_a_join_with_one_time_per_row(half_life):
    rng = np.random.default_rng(12)
    # 40: past 64 half-lives of 0.5 (a re-base); 90: a later run of nobody, which moves nothing
    runs, counts = [0.25, 3.0, 3.0, 40.0, 0.0, 90.0], [4, 0, 7, 2, 5, 0]
    rows = rng.permutation(500)[: sum(counts)]
    weight = rng.uniform(0.5, 2.0, rows.size).astype(np.float32)
    by_row, in_runs = BroadcastColumns(500), BroadcastColumns(500)
    for cols in (by_row, in_runs):  # members before, and a broadcast so that novelty is stored as of a later time
        cols.join(np.arange(400, 420), 0.0, novelty_half_life=half_life)
        broadcast(cols, 2.0, rng=np.random.default_rng(1), **params(novelty_half_life=half_life))
    by_row.join(rows, np.repeat(runs, counts), novelty_half_life=half_life, weight=weight, new=True)
    in_runs.join_runs(rows, runs, counts, novelty_half_life=half_life, weight=weight)
    for name in ("row", "weight", "novelty", "fatigue", "exposures"):
        np.testing.assert_array_equal(in_runs.column(name), by_row.column(name))
    np.testing.assert_array_equal(in_runs.slot_of[np.arange(500)], by_row.slot_of[np.arange(500)])
    assert (in_runs.n, in_runs.fresh, in_runs.t_novelty) == (by_row.n, by_row.fresh, by_row.t_novelty)
    with pytest.raises(ValueError, match="runs"):
        in_runs.join_runs(np.arange(3), [1.0, 2.0], [1, 1], novelty_half_life=half_life)
    with pytest.raises(ValueError, match="finite"):
        in_runs.join_runs(np.arange(3), [1.0, math.inf], [1, 2], novelty_half_life=half_life)
    with pytest.raises(ValueError, match="distinct"):
        in_runs.join_runs(np.array([1, 2, 1]), [9.0], [3], novelty_half_life=half_life)


@pytest.mark.parametrize("half_life", [INF, 30.0, 0.5])
def test_a_vouched_join_in_runs_leaves_the_state_of_a_checked_one(half_life):
    rng = np.random.default_rng(13)
    runs, counts = [0.25, 3.0, 3.0, 40.0, 41.0], [4, 1, 7, 2, 5]  # 40: past 64 half-lives of 0.5 (a re-base)
    rows = rng.permutation(500)[: sum(counts)]
    weight = rng.uniform(0.5, 2.0, rows.size).astype(np.float32)
    checked, vouched = BroadcastColumns(500), BroadcastColumns(500)
    for cols in (checked, vouched):
        cols.join(np.arange(400, 420), 0.0, novelty_half_life=half_life)
        broadcast(cols, 2.0, rng=np.random.default_rng(1), **params(novelty_half_life=half_life))
    checked.join_runs(rows, runs, counts, novelty_half_life=half_life, weight=weight)
    vouched.join_runs(rows, runs, counts, novelty_half_life=half_life, weight=weight, vouched=True)
    for name in ("row", "weight", "novelty", "fatigue", "exposures"):
        np.testing.assert_array_equal(vouched.column(name), checked.column(name))
    np.testing.assert_array_equal(vouched.slot_of[np.arange(500)], checked.slot_of[np.arange(500)])
    assert (vouched.n, vouched.fresh, vouched.t_novelty) == (checked.n, checked.fresh, checked.t_novelty)


@pytest.mark.parametrize("block", [7, DEFAULT_BLOCK])
def test_the_count_above_a_threshold_is_taken_before_the_stamps(block):
    rng = np.random.default_rng(9)
    cols = BroadcastColumns(1_000)
    cols.add_column("last", np.float64, fill=-np.inf)
    cols.join(np.arange(0, 1_000, 3), 0.0, novelty_half_life=INF)
    last = cols.column("last")
    last[:] = rng.uniform(-2.0, 5.0, size=last.size)
    expected = int(np.count_nonzero(last > 4.0))
    outcome = broadcast(cols, 5.0, **params(base=0.5), rng=rng, block=block, stamp={"last": 5.0},
                        count_above=("last", 4.0))
    assert outcome.above == expected
    assert outcome.engaged.size > 0 and np.count_nonzero(cols.column("last") > 4.0) > expected  # stamps came after
    assert broadcast(cols, 6.0, **params(), rng=rng).above == 0  # not asked: nothing counted


@pytest.mark.parametrize("dense", [False, True])
@pytest.mark.parametrize("strength", [0.0, 0.3, 4.0])
def test_engagements_and_opt_outs_are_those_of_the_whole_block_formula(strength, dense):
    """The kernel takes exp(−s·F) only for the rows that can engage or opt out, or for the whole block when many
    can; either way every row's outcome must be that of p = min(1, base·w·novelty·exp(−s·F)) computed for all,
    with the same uniforms."""
    size, base, floor, h_n, h_f, u, fs = 20_000, 0.3, 0.4, 30.0, 4.0, 0.05, 1.5
    rng = np.random.default_rng(7)
    cols = BroadcastColumns(size)
    kw = dict(base=base, floor=floor, novelty_half_life=h_n, fatigue_half_life=h_f, strength=strength, optout=u,
              optout_fatigue_strength=fs)
    for k, t in enumerate([0.0, 3.0, 5.0, 9.0, 10.0, 17.0]):
        who = np.arange(k * 3000, (k + 1) * 3000)
        cols.join(who, t, novelty_half_life=h_n, weight=rng.uniform(0.2, 3.0, who.size).astype(np.float32))
        if k < 5:
            broadcast(cols, t + 0.5, rng=rng, block=4096, **kw)
    t = 18.0
    n = cols.n
    rows, w = cols.row[:n].copy(), cols.weight[:n].copy()
    nov = cols.novelty[:n] * np.float32(math.exp2(-(t - cols.t_novelty) / h_n))
    fat = cols.fatigue[:n] * np.float32(math.exp2(-(t - cols.t_last) / h_f))
    uniforms = copy.deepcopy(rng).random(n, dtype=np.float32)
    cols._dense = dense  # the mode the previous broadcasts would have chosen
    o = broadcast(cols, t, rng=rng, block=4096, **kw)
    p = (nov * np.float32(base * (1 - floor)) + np.float32(base * floor)) * w
    if strength:
        p = p * np.exp(fat * np.float32(-strength))
    engaged = uniforms < p
    assert 0 < engaged.sum() < n
    assert np.array_equal(o.engaged, rows[engaged])
    pc = np.minimum(p, 1.0, dtype=np.float64)
    q = np.minimum(u * (1.0 + fs * fat.astype(np.float64)), 1.0)
    out = (uniforms < pc * q) | (uniforms >= 1.0 - (1.0 - pc) * q)
    assert out.sum() > 0
    assert np.array_equal(np.sort(o.opted_out), np.sort(rows[out]))
