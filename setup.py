"""The compiled kernels of a Page post (reachsim.model._page_kernels), built when a C compiler is at hand;
everything else is in pyproject.toml. Without a compiler the build goes on without them and reachsim uses the NumPy
path, with the same results (reachsim.model.fan_response, reachsim.model.boost_response)."""

import sys

from setuptools import Extension, setup

# No fused multiply-add: the kernels must round where NumPy rounds (MSVC's default /fp:precise contracts nothing).
FLAGS = [] if sys.platform == "win32" else ["-O2", "-ffp-contract=off"]

setup(
    ext_modules=[
        Extension(
            "reachsim.model._page_kernels",
            ["reachsim/model/_page_kernels.c"],
            extra_compile_args=FLAGS,
            optional=True,
        )
    ]
)
