"""App-install ads bought as impressions, against the closed form of paid acquisition (reachsim.model.conversion).

Tolerances are 4 standard errors, never golden numbers.
"""

from __future__ import annotations

import math

import numpy as np

from reachsim.engine.simulation import Simulation
from reachsim.model.conversion import conversion_probability

Z = 4.0


def test_install_ads_convert_by_the_impression_closed_form_from_the_launch(scenario_factory) -> None:
    # launch on day L; each of T never-installed installs on day L with 1 − (1 − c/T)^I, then on day L + 1 the
    # N_1 left do so again: installs by the end of day L + 1 ~ Binomial(T, 1 − (1 − π)^2)
    T, c, cpm, budget, launch, reps = 20_000, 0.1, 10.0, 1_000.0, 3, 4
    impressions = budget / cpm * 1000  # c·I/T = 0.5
    paid = {"budget_per_day": budget, "cpm": cpm, "conversion_probability": c}
    channel = {"type": "app", "build": {"cost": 0, "days": launch}, "retention": {"day_1": 0.9, "day_30": 0.5},
               "acquisition": {"paid": paid}}
    sc = scenario_factory([channel], size=T, horizon=launch + 2)
    pi = float(conversion_probability(c, T, impressions))
    share = 1 - (1 - pi) ** 2
    installs = []
    for r in range(reps):
        result = Simulation(sc, "s", r).run()
        joined = result.series["app", "joined_paid"]
        assert not joined[:launch].any()  # nothing bought before the launch
        assert (result.series["app", "paid_impressions"][launch:] == impressions).all()
        assert result.ledger_totals["app", "acquisition"] == -2 * budget
        installs.append(joined.sum())
    assert abs(np.mean(installs) - T * share) < Z * math.sqrt(T * share * (1 - share) / reps)
    assert c * impressions * 2 - T * share > 10 * math.sqrt(T * share)  # saturated: below the linear count
