"""reachsim: where should the next dollar of reach go — an owned audience or paid delivery?

The public API for notebooks and scripts::

    from reachsim import load_scenario, run_experiment
    scenario = load_scenario("scenarios/messenger_push.yaml")
    result = run_experiment(scenario)
    result.summary()["strategies"]["push_free"]["metrics"]["npv"]
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("reachsim")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"

from reachsim.experiments.runner import ExperimentResult, run_experiment
from reachsim.scenario.load import load_scenario

__all__ = ["ExperimentResult", "__version__", "load_scenario", "run_experiment"]
