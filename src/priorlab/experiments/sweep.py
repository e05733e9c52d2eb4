"""Run a sweep: register its jobs, run the pending ones on an executor, then report.

A sweep directory holds exactly one sweep: its spec (sweep.yaml) and the ids of that spec's
jobs (jobs.json). A different spec into the same directory is refused unless `extend` is
set; then the new spec's jobs join the registry (finished ones with the same id are reused)
and the report covers the new spec's jobs only.

Rerunning a sweep skips done jobs and retries failed or interrupted ones; a run starts
once its prior is done. Several sweep processes may drive one directory at once (on one or
several hosts): each claims pending jobs, renews the leases of those it runs, takes back
jobs whose lease expired, and exits when every job is done or failed. The terminal shows
one bar: jobs done / running / failed, ETA.
"""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import time
from dataclasses import asdict
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from priorlab.config import read_yaml
from priorlab.errors import ConfigError, PriorlabError
from priorlab.experiments.executors import EXECUTORS, default_workers, make_executor
from priorlab.experiments.spec import Job, Sweep, dump, expand
from priorlab.experiments.store import RENEW_S, Registry, lease_expired, owner_tag
from priorlab.experiments.worker import execute
from priorlab.io import TMP_MARK, atomic_write_text

SPEC_FILE, JOBS_FILE = "sweep.yaml", "jobs.json"


def run_sweep(
    spec: dict,
    out: str | Path,
    *,
    executor: str = "local",
    workers: int | None = None,
    address: str | None = None,
    quiet: bool = False,
    report: bool = True,
    extend: bool = False,
) -> dict:
    """Run every job of `spec` not yet done under `out`; returns the registry counts of the
    sweep's jobs (and writes the report once every run has finished, done or failed)."""
    sweep = expand(spec)  # all validation happens here, before any job starts
    if executor not in EXECUTORS:
        raise ConfigError(
            "executor", f"unknown executor {executor!r}; valid: {', '.join(EXECUTORS)}"
        )
    if workers is not None and workers < 1:
        raise ConfigError("workers", f"must be >= 1, got {workers}")
    root = Path(out)
    claim_directory(root, spec, sweep, extend=extend)
    console = Console(quiet=quiet, stderr=True)
    registry = Registry(root)
    registry.add(sweep.jobs)
    reset = registry.recover(sweep.jobs)
    if any(reset.values()):
        console.print(f"recovered: {', '.join(f'{n} {k}' for k, n in reset.items() if n)}")
    ids = {j.id for j in sweep.jobs}
    start = registry.counts({j.id for j in sweep.runs})  # runs only, like the count beside it
    held = f", {start['running']} running elsewhere" if start["running"] else ""
    console.print(
        f"[bold]{escape(sweep.name)}[/]: {escape(_priors(sweep))}, {len(sweep.runs)} runs, "
        f"{start['done']} already done{held} -> {escape(str(root))}"
    )
    todo = [j for j in sweep.jobs if registry.status(j.id) != "done"]
    if todo:
        pool = make_executor(executor, workers or default_workers(), address, sweep.resources)
        try:
            _drive(todo, registry, pool, console, quiet)
        except (OSError, sqlite3.OperationalError) as e:
            if not (getattr(e, "errno", None) == errno.ENOSPC or "disk is full" in str(e)):
                raise
            raise PriorlabError(
                f"{root}: the disk is full ({e}); free space (or move the directory) and "
                "rerun: finished jobs are kept"
            ) from None
        finally:
            pool.close()
    counts = registry.counts(ids)
    # a failed tuning candidate is a measured outcome (it cannot be chosen), not a missing run
    needed = {j.id for j in sweep.runs if j.labels.get("phase") != "tune"}
    finished = registry.counts(needed)
    registry.close()
    if report and finished["done"] and finished["done"] + finished["failed"] == len(needed):
        from priorlab.report import build_report

        result = build_report(root)  # failed runs are left out and listed
        console.print(f"[bold]verdict[/]: {escape(result['verdict_line'])}", highlight=False)
        for line in result.get("verdict_lines", []):  # per level: equivalent / different / ...
            console.print(f"  {escape(line)}", highlight=False)
        for line in result.get("ceiling_lines", []):  # per level: where runs end, how fast
            console.print(f"  {escape(line)}", highlight=False)
        for line in (result.get("support") or {}).get("lines", []):  # per prior
            console.print(f"  {escape(line)}", highlight=False)
        console.print(
            f"report: {escape(str(root / 'report.html'))}  (open it in a browser; data in "
            "report.json)"
        )
    if counts["failed"]:
        console.print(
            f"[red]{counts['failed']} jobs failed[/]: see the error column with "
            f"`priorlab status {escape(str(root))}` and each job's log.txt; rerun to retry them"
        )
    return counts


def claim_directory(root: Path, spec: dict, sweep: Sweep, *, extend: bool) -> None:
    """Make `root` this sweep's directory: new or empty, or already holding the same spec
    (or any sweep, with `extend`). Writes sweep.yaml and jobs.json; refuses an unwritable
    directory before any work."""
    old_spec = root / SPEC_FILE
    if old_spec.is_file():
        before = read_yaml(old_spec.read_text())
        if before != read_yaml(dump(spec)):
            if not extend:
                raise PriorlabError(
                    f"{root} holds the sweep {before.get('name')!r} with another spec "
                    f"({old_spec}); this spec ({spec.get('name')!r}) differs from it. Choose "
                    "another --out, or pass --extend to add this spec's jobs to that sweep "
                    "(finished jobs with the same settings are reused; the report then covers "
                    "this spec only)"
                )
            history = root / "specs"
            history.mkdir(exist_ok=True)
            os.replace(old_spec, history / f"{len(list(history.iterdir())):03d}.yaml")
    elif _foreign(root):
        shown = ", ".join(sorted(p.name for p in root.iterdir())[:5])
        raise PriorlabError(
            f"{root} is not a sweep directory and not empty ({shown}); choose a new or empty --out"
        )
    try:
        root.mkdir(parents=True, exist_ok=True)
        atomic_write_text(root / SPEC_FILE, dump(spec))
        jobs = [{"id": j.id, "kind": j.kind, "phase": j.labels.get("phase")} for j in sweep.jobs]
        atomic_write_text(
            root / JOBS_FILE, json.dumps({"name": sweep.name, "jobs": jobs}, indent=1)
        )
    except OSError as e:
        raise PriorlabError(f"out: cannot write the sweep into {root} ({e.strerror})") from None


def _foreign(root: Path) -> bool:
    """A directory holding files but no sweep (another sweep process's half-written
    sweep.yaml or jobs.json, seen in passing, does not count)."""
    if not root.is_dir() or (root / "registry.sqlite").exists():
        return False
    mine = (f"{SPEC_FILE}{TMP_MARK}", f"{JOBS_FILE}{TMP_MARK}")
    return any(not p.name.startswith(mine) for p in root.iterdir())


def _drive(todo: list[Job], registry: Registry, pool, console, quiet) -> None:
    """Run the jobs of `todo` whose deps are done, at most pool.workers at a time, until
    every one is done or failed (here or in another sweep process on this directory)."""
    owner = owner_tag()
    waiting = list(todo)
    running: dict = {}  # handle -> job
    tally = {"done": 0, "failed": 0}
    columns = [
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, console=console, disable=quiet) as bar:
        task = bar.add_task("", total=len(todo))

        def show():
            bar.update(
                task,
                completed=tally["done"] + tally["failed"],
                description=f"done {tally['done']} · running {len(running)} · "
                f"failed {tally['failed']}",
            )

        renewed = 0.0
        while waiting or running:
            if time.time() - renewed > RENEW_S:
                registry.renew(owner)
                renewed = time.time()
            for job in list(waiting):
                state = _ready(job, registry, owner)
                if state in ("done", "failed"):  # finished elsewhere, or its prior failed
                    waiting.remove(job)
                    tally[state] += 1
                elif state == "ready" and len(running) < pool.workers:
                    if registry.claim(job.id, owner):
                        needs = [*job.deps, *(c["id"] for c in job.candidates)]
                        deps = {d: str(registry.job_dir(d)) for d in needs}
                        job_dict = _pool_dirs(asdict(job), registry)
                        args = (job_dict, str(registry.job_dir(job)), deps, pool.threads)
                        running[pool.submit(execute, *args)] = job
                        waiting.remove(job)
            show()
            if not running:
                if waiting:  # jobs or deps held by another sweep process: wait for it
                    time.sleep(min(2.0, RENEW_S))
                continue
            for handle in pool.wait(list(running), timeout=RENEW_S):
                job = running.pop(handle)
                try:
                    res = pool.result(handle)
                except Exception as e:  # the worker process itself died
                    res = {"ok": False, "error": f"worker died: {e}", "host": None}
                registry.finish(job.id, error=res["error"], host=res["host"])
                tally["done" if res["ok"] else "failed"] += 1
                if not res["ok"]:
                    what = escape(f"{job.id} {job.labels}: {res['error']}")
                    console.print(f"[red]failed[/] {what}")
            show()


def _ready(job: Job, registry: Registry, owner: str) -> str:
    """What to do with a waiting job: "done"/"failed" (nothing more), "ready" (claim it),
    or "wait" (its deps are unfinished, or another live process holds it)."""
    row = registry.row(job.id)
    if row["status"] in ("done", "failed"):
        return row["status"]
    if row["status"] == "running":
        if not (lease_expired(row) and registry.release(job.id, "running", row["owner"])):
            return "wait"
    priors = [*job.deps, *job.pool]  # its own prior, then those its reward samples (POLAR)
    deps = [registry.status(d) for d in priors]
    tried = [registry.status(c["id"]) for c in job.candidates]  # tuning runs
    error = (
        f"prior {priors[deps.index('failed')]} failed"
        if "failed" in deps
        else "every tuning candidate failed"
        if tried and all(t == "failed" for t in tried)
        else None
    )
    if error:
        if registry.claim(job.id, owner):
            registry.finish(job.id, error=error)
        return "failed"
    if all(s == "done" for s in deps) and all(t in ("done", "failed") for t in tried):
        return "ready"
    return "wait"


def _pool_dirs(job: dict, registry: Registry) -> dict:
    """`job` (a Job as a dict) with the prior ids of its POLAR pool (`reward_params.priors`)
    replaced by those priors' checkpoint dirs, which exist once the priors are done."""
    if not job.get("pool"):
        return job
    params = job["config"]["reward_params"]
    dirs = [str(registry.job_dir(p)) if p in job["pool"] else p for p in params["priors"]]
    return {**job, "config": {**job["config"], "reward_params": {**params, "priors": dirs}}}


def _priors(sweep: Sweep) -> str:
    """ "3 priors", or "3 priors (2 given)" when some are given as models (no job)."""
    n = len(sweep.priors) + len(sweep.given)
    return f"{n} priors" + (f" ({len(sweep.given)} given)" if sweep.given else "")


def describe(sweep: Sweep) -> str:
    lines = [f"{sweep.name}: {_priors(sweep)}, {len(sweep.runs)} runs"]
    lines += [f"  {j.id}  prior {j.labels['prior']}" for j in sweep.priors]
    lines += [f"  {g.id}  prior {g.labels['prior']}: {g.model}" for g in sweep.given]
    return "\n".join(lines)
