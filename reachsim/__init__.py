"""reachsim: where should the next dollar of reach go — an owned audience or paid delivery?

The public API for notebooks and scripts::

    from reachsim import load_scenario, run_experiment
    scenario = load_scenario("scenarios/messenger_push.yaml")
    result = run_experiment(scenario)
    result.summary()["strategies"]["push_free"]["metrics"]["npv"]

Importing the package is cheap: the simulation (SimPy, SciPy) loads when a name below is first used.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("reachsim")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"

if TYPE_CHECKING:
    from reachsim.experiments.runner import ExperimentResult, run_experiment
    from reachsim.scenario.load import load_scenario

__all__ = ["ExperimentResult", "__version__", "load_scenario", "run_experiment"]

_LAZY = {
    "ExperimentResult": "reachsim.experiments.runner",
    "run_experiment": "reachsim.experiments.runner",
    "load_scenario": "reachsim.scenario.load",
}


def __getattr__(name: str) -> Any:
    """Load the public names on first use (PEP 562), so ``import reachsim`` stays cheap."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'reachsim' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
