"""Executors: where jobs run. Both take `submit(fn, *args)` and `wait(handles)`; the
sweep loop above them is the same code path for a local process pool and for Ray.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor
from concurrent.futures import wait as futures_wait

from priorlab.errors import ConfigError
from priorlab.experiments.worker import die_with_parent

EXECUTORS = ("local", "ray")


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


class LocalExecutor:
    """A pool of worker processes (spawned, one thread each) on this machine."""

    threads = 1  # torch threads per job

    def __init__(self, workers: int):
        self.workers = workers
        self.pool = ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=die_with_parent,
            initargs=(os.getpid(),),
        )

    def submit(self, fn, *args):
        return self.pool.submit(fn, *args)

    def wait(self, handles: list, timeout: float | None = None) -> list:
        """The handles that finished (blocks until at least one did or `timeout`)."""
        done, _ = futures_wait(handles, timeout=timeout, return_when=FIRST_COMPLETED)
        return list(done)

    def result(self, handle):
        return handle.result()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


class RayExecutor:
    """Ray tasks on a local Ray instance or the cluster at `address`, each asking for the
    sweep's `resources` ({cpus, gpus}; default one CPU, no GPU). Ray gives a task with GPUs
    its own CUDA_VISIBLE_DEVICES, so a job's `cuda` is the GPU Ray assigned it (a fraction
    of one, e.g. 0.25, lets four small jobs share a GPU).

    Jobs read and write the sweep directory, so on a multi-machine cluster it must be on
    a filesystem every node mounts at the same path.
    """

    def __init__(self, workers: int, address: str | None = None, resources: dict | None = None):
        try:
            import ray
        except ImportError:
            raise ConfigError(
                "executor", "ray is not installed: pip install 'priorlab[ray]'"
            ) from None
        self.ray = ray
        if not ray.is_initialized():
            kw = {"address": address} if address else {"num_cpus": workers}
            ray.init(**kw, include_dashboard=False, log_to_driver=False)
        self.resources = {**RESOURCES, **(resources or {})}
        self.threads = self.resources["cpus"]
        self.workers = int(ray.cluster_resources().get("CPU", workers)) if address else workers
        self._remote = {}

    def options(self) -> dict:
        """What each task asks Ray for."""
        return {"num_cpus": self.resources["cpus"], "num_gpus": self.resources["gpus"]}

    def submit(self, fn, *args):
        if fn not in self._remote:
            self._remote[fn] = self.ray.remote(max_retries=0, **self.options())(fn)
        return self._remote[fn].remote(*args)

    def wait(self, handles: list, timeout: float | None = None) -> list:
        done, _ = self.ray.wait(handles, num_returns=1, timeout=timeout)
        return done

    def result(self, handle):
        return self.ray.get(handle)

    def close(self) -> None:
        pass  # a local Ray instance is shut down at exit; a cluster stays up


RESOURCES = {"cpus": 1, "gpus": 0}


def parse_resources(value) -> dict:
    """A spec's `resources: {cpus, gpus}`, what each job asks Ray for (the local pool runs
    one job per worker process): cpus >= 1 whole CPUs (the job's torch threads), gpus >= 0
    (a fraction below 1 shares a GPU, e.g. 0.25 for the built-in model; whole GPUs for a
    real model). Unset fields keep their defaults, {cpus: 1, gpus: 0}."""
    if value is None:
        return dict(RESOURCES)
    if not isinstance(value, dict):
        raise ConfigError("resources", f"a mapping such as {{cpus: 1, gpus: 0.5}}, got {value!r}")
    unknown = sorted(set(value) - set(RESOURCES))
    if unknown:
        raise ConfigError(f"resources.{unknown[0]}", f"unknown; accepted: {', '.join(RESOURCES)}")
    out = {**RESOURCES, **value}
    cpus, gpus = out["cpus"], out["gpus"]
    if not isinstance(cpus, int) or isinstance(cpus, bool) or cpus < 1:
        raise ConfigError("resources.cpus", f"a whole number of CPUs >= 1, got {cpus!r}")
    number = isinstance(gpus, (int, float)) and not isinstance(gpus, bool)
    if not number or gpus < 0 or (gpus > 1 and gpus != int(gpus)):
        raise ConfigError(
            "resources.gpus", f"0, a fraction of one GPU (0, 1], or whole GPUs, got {gpus!r}"
        )
    return out


def make_executor(
    name: str, workers: int, address: str | None = None, resources: dict | None = None
):
    if name == "local":
        if address:
            raise ConfigError("address", "only used with --executor ray")
        return LocalExecutor(workers)
    if name == "ray":
        return RayExecutor(workers, address, resources)
    raise ConfigError("executor", f"unknown executor {name!r}; valid: {', '.join(EXECUTORS)}")
