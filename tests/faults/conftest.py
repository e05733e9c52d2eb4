"""Shared pieces of the fault-injection suite: a small sweep and a way to run the CLI."""

import copy
import os
import subprocess
import sys

import pytest
import yaml

from tests.experiments.conftest import TINY

SMALL = {**copy.deepcopy(TINY), "name": "small", "seeds": [0, 1], "algos": ["grpo", "ei"]}
SMALL["priors"] = [{"label": "p", "steps": 20}]


def cli(*args, env=None, **kw) -> subprocess.CompletedProcess:
    """`priorlab ARGS` in a fresh process (the installed module, as a user runs it)."""
    return subprocess.run(
        [sys.executable, "-m", "priorlab.cli", *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        **kw,
    )


def write_spec(path, spec) -> str:
    path.write_text(yaml.safe_dump(spec))
    return str(path)


@pytest.fixture
def small_spec():
    """1 prior x 2 algorithms x 2 seeds of a 0.1M model: 5 jobs, a minute on 2 cores."""
    return copy.deepcopy(SMALL)


@pytest.fixture(scope="package")
def reference(tmp_path_factory):
    """The small sweep run once, uninterrupted: the report every faulty run must match."""
    from priorlab.experiments import run_sweep

    root = tmp_path_factory.mktemp("reference")
    run_sweep(copy.deepcopy(SMALL), root, workers=2, quiet=True)
    return root
