"""One job, run in a worker process (local pool or Ray): pretrain a prior or train a run.

The job writes into `<dir>.tmp-<pid>-<hex>/` (priorlab.io.temp_sibling), which is renamed to
`<dir>/` once everything is on disk.
Each worker uses one intra-op thread, so a run's numbers do not depend on which worker,
executor or machine load it met: same seed, same metrics.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import socket
import threading
import time
import traceback
from pathlib import Path

from priorlab.io import TMP_MARK, atomic_write_text, temp_sibling

logger = logging.getLogger(__name__)  # (`log` names the job's log.txt stream here)

THREADS = 1


def execute(job: dict, job_dir: str, deps: dict[str, str], threads: int = THREADS) -> dict:
    """Run `job` (a Job as a dict) into `job_dir`; `deps` maps prior ids to their dirs (a run
    from a prior given as a model has none: its config names the model);
    `threads`: torch's intra-op threads (the CPUs the job was given; same count, same
    metrics).

    Returns {"ok": bool, "error": str | None, "host": str, "seconds": float}. Never raises:
    a failure is reported with the last line of its error (the full traceback is in log.txt).
    """
    import torch

    t0 = time.perf_counter()
    final = Path(job_dir)
    tmp = temp_sibling(final)
    stale = list(final.parent.glob(f"{final.name}{TMP_MARK}*"))  # left by a crashed attempt
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)
    tmp.mkdir(parents=True)
    error, cell = None, {}
    with (tmp / "log.txt").open("w") as log, contextlib.redirect_stdout(log), _diagnostics_to(log):
        if stale:
            logger.info("removed %s, left by a crashed attempt", ", ".join(p.name for p in stale))
        _log_to(log)
        threading.excepthook = _thread_errors_to(log)
        torch.set_num_threads(threads)  # (vLLM, once loaded, logs a warning here)
        try:
            cell = _run(job, tmp, deps)
        except Exception as e:  # reported to the registry, the sweep goes on
            log.write(traceback.format_exc())
            error = f"{type(e).__name__}: {e}".splitlines()[0][:500]
    if error is None:
        labels = {"run_id": job["id"], "kind": job["kind"], **job["labels"], **cell}
        _write_json(tmp / "cell.json", labels)
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
    return {
        "ok": error is None,
        "error": error,
        "host": socket.gethostname(),
        "seconds": time.perf_counter() - t0,
    }


def _run(job: dict, out: Path, deps: dict[str, str]) -> dict:
    """Run the job into `out`; returns what its cell.json adds to the labels."""
    from priorlab.config import PretrainConfig, TrainConfig, build

    if job["kind"] == "prior":
        from priorlab.priors import pretrain

        pretrain(build(PretrainConfig, {**job["config"], "out": str(out)}), quiet=True)
        return {}
    from priorlab.experiments.tuning import apply, choose
    from priorlab.train import train

    cfg = {**job["config"], "out": str(out)}
    if job["deps"]:  # a pretrained prior's directory (a given model is in the config)
        (prior_id,) = job["deps"]
        cfg["model"] = deps[prior_id]
    cell = {}
    if job.get("candidates"):  # a tuned final run: the best candidate's configuration
        selection = choose(list(job["candidates"]), deps)
        _write_json(out / "selection.json", selection)
        cfg, cell = apply(selection["chosen"], cfg), {"chosen": selection["chosen"]}
    train(build(TrainConfig, cfg), quiet=True)
    return cell


def _thread_errors_to(log):
    """A thread's uncaught error (TensorBoard's writer thread on a full disk) goes to the
    job's log, never to the sweep's terminal, where it would cut into the sweep's own
    message; when even the log cannot take it (the disk is full, the job is over), it is
    dropped: the job's error is recorded from its main thread all the same."""

    def hook(args) -> None:
        error = (args.exc_type, args.exc_value, args.exc_traceback)
        text = "".join(traceback.format_exception(*error))
        with contextlib.suppress(OSError, ValueError):
            log.write(f"in thread {getattr(args.thread, 'name', '?')}: {text}")

    return hook


@contextlib.contextmanager
def _diagnostics_to(stream, level: int = logging.INFO):
    """priorlab's diagnostics (the `priorlab` logger) during one job also go to its log.txt."""
    handler = logging.StreamHandler(stream)
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    package = logging.getLogger("priorlab")
    package.addHandler(handler)
    before = package.level
    if package.getEffectiveLevel() > level:
        package.setLevel(level)
    try:
        yield
    finally:
        package.removeHandler(handler)
        package.setLevel(before)


def _log_to(stream) -> None:
    """Point the logging handlers that write to a closed stream at `stream` (this job's
    log): a library that set its logging up during an earlier job of this worker process
    holds that job's log.txt, closed since (vLLM binds its handler to sys.stdout at import;
    left alone, each of its lines in a later job is a "Logging error" traceback on stderr)."""
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    for logger in loggers:
        for handler in getattr(logger, "handlers", []):  # placeholders have none
            stale = getattr(getattr(handler, "stream", None), "closed", False)
            if stale and not isinstance(handler, logging.FileHandler):
                with handler.lock:  # (not setStream: it flushes the closed stream first)
                    handler.stream = stream


def _write_json(path: Path, data: dict) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True))


def die_with_parent(parent_pid: int | None = None) -> None:
    """Pool initializer: on Linux, a worker is killed when the sweep process dies (kill -9
    included), so no orphan goes on writing into the sweep directory. A sweep killed before
    this signal was armed has already orphaned the worker: it checks and exits at once."""
    import ctypes
    import signal
    import sys

    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if parent_pid is not None and os.getppid() != parent_pid:
        os._exit(1)  # the parent died before the signal was armed
