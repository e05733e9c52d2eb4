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
    """Ray tasks (one CPU each) on a local Ray instance or the cluster at `address`.

    Jobs read and write the sweep directory, so on a multi-machine cluster it must be on
    a filesystem every node mounts at the same path.
    """

    def __init__(self, workers: int, address: str | None = None):
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
        self.workers = int(ray.cluster_resources().get("CPU", workers)) if address else workers
        self._remote = {}

    def submit(self, fn, *args):
        if fn not in self._remote:
            self._remote[fn] = self.ray.remote(num_cpus=1, max_retries=0)(fn)
        return self._remote[fn].remote(*args)

    def wait(self, handles: list, timeout: float | None = None) -> list:
        done, _ = self.ray.wait(handles, num_returns=1, timeout=timeout)
        return done

    def result(self, handle):
        return self.ray.get(handle)

    def close(self) -> None:
        pass  # a local Ray instance is shut down at exit; a cluster stays up


def make_executor(name: str, workers: int, address: str | None = None):
    if name == "local":
        if address:
            raise ConfigError("address", "only used with --executor ray")
        return LocalExecutor(workers)
    if name == "ray":
        return RayExecutor(workers, address)
    raise ConfigError("executor", f"unknown executor {name!r}; valid: {', '.join(EXECUTORS)}")
