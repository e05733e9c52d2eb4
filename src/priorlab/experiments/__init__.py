"""Experiments: sweep specs, the run store, executors, and `priorlab compare`."""

from priorlab.experiments.spec import Job, Sweep, expand, load_spec, preset_names
from priorlab.experiments.sweep import run_sweep

__all__ = ["Job", "Sweep", "expand", "load_spec", "preset_names", "run_sweep"]
