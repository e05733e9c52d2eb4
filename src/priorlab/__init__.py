"""priorlab: does the RL algorithm matter, or does the prior set the ceiling?

The Python API (priorlab/api.py; examples/python_api.py drives a sweep with it):

    from priorlab import pretrain, train, evaluate, compare, report, TrainConfig

Diagnostics go to the `priorlab` logger (a NullHandler here, as libraries do; the CLI
sends them to stderr, `priorlab --log-level info`); results and progress go to the
terminal through rich.
"""

import logging
import sys
import types

from priorlab.api import SweepResult, compare, evaluate, pretrain, report, train
from priorlab.config import EvalConfig, PretrainConfig, TrainConfig

__all__ = [
    "EvalConfig",
    "PretrainConfig",
    "SweepResult",
    "TrainConfig",
    "compare",
    "evaluate",
    "pretrain",
    "report",
    "train",
]

logging.getLogger(__name__).addHandler(logging.NullHandler())

_SHADOWED = {"train", "evaluate", "report"}  # API functions named as submodules


class _Package(types.ModuleType):
    """Keeps `priorlab.train`, `.evaluate` and `.report` the API functions: importing the
    submodule of that name would set the package's attribute to the module. The modules
    stay where imports find them: `from priorlab.train import train` works as before,
    `import priorlab.train as m` does not (m would be the function)."""

    def __setattr__(self, name, value):
        if name in _SHADOWED and isinstance(value, types.ModuleType):
            return  # the submodule is sys.modules["priorlab." + name]
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
