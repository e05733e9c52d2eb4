"""Run a sweep: register its jobs, run the pending ones on an executor, then report.

Rerunning a sweep skips done jobs and retries failed or interrupted ones; a run starts
once its prior is done. The terminal shows one bar: jobs done / running / failed, ETA.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from priorlab.errors import ConfigError
from priorlab.experiments.executors import EXECUTORS, default_workers, make_executor
from priorlab.experiments.spec import Job, Sweep, dump, expand
from priorlab.experiments.store import Registry, owner_tag
from priorlab.experiments.worker import execute


def run_sweep(
    spec: dict,
    out: str | Path,
    *,
    executor: str = "local",
    workers: int | None = None,
    address: str | None = None,
    quiet: bool = False,
    report: bool = True,
) -> dict:
    """Run every job of `spec` not yet done under `out`; returns the registry counts
    (and writes the report when every run is done and `report` is set)."""
    sweep = expand(spec)  # all validation happens here, before any job starts
    if executor not in EXECUTORS:
        raise ConfigError(
            "executor", f"unknown executor {executor!r}; valid: {', '.join(EXECUTORS)}"
        )
    if workers is not None and workers < 1:
        raise ConfigError("workers", f"must be >= 1, got {workers}")
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    (root / "sweep.yaml").write_text(dump(spec))
    console = Console(quiet=quiet, stderr=True)
    registry = Registry(root)
    registry.add(sweep.jobs)
    reset = registry.recover(sweep.jobs)
    if any(reset.values()):
        console.print(f"retrying: {reset}")
    ids = {j.id for j in sweep.jobs}
    pending = [j for j in sweep.jobs if registry.status(j.id) == "pending"]
    console.print(
        f"[bold]{sweep.name}[/]: {len(sweep.priors)} priors, {len(sweep.runs)} runs, "
        f"{len(sweep.jobs) - len(pending)} already done -> {root}"
    )
    if pending:
        pool = make_executor(executor, workers or default_workers(), address)
        try:
            _drive(pending, registry, pool, root, console, quiet)
        finally:
            pool.close()
    counts = registry.counts(ids)
    # a failed tuning candidate is a measured outcome (it cannot be chosen), not a missing run
    needed = {j.id for j in sweep.jobs if j.labels.get("phase") != "tune"}
    complete = registry.counts(needed)["done"] == len(needed)
    registry.close()
    if report and complete:
        from priorlab.report import build_report

        result = build_report(root)
        console.print(f"[bold]verdict[/]: {result['verdict_line']}", highlight=False)
        for line in result.get("verdict_lines", []):  # per level: equivalent / different / ...
            console.print(f"  {line}", highlight=False)
        console.print(
            f"report: {root / 'report.html'}  (open it in a browser; data in report.json)"
        )
    elif counts["failed"]:
        console.print(
            f"[red]{counts['failed']} jobs failed[/]: see the error column with "
            f"`priorlab status {root}` and each job's log.txt"
        )
    return counts


def _drive(pending: list[Job], registry: Registry, pool, root: Path, console, quiet) -> None:
    """Submit jobs whose deps are done, at most pool.workers at a time, until none is left."""
    owner = owner_tag()
    waiting = list(pending)
    running: dict = {}  # handle -> job
    failed = done = 0
    columns = [
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, console=console, disable=quiet) as bar:
        task = bar.add_task("", total=len(pending))

        def show():
            bar.update(
                task,
                completed=done + failed,
                description=f"done {done} · running {len(running)} · failed {failed}",
            )

        while waiting or running:
            for job in list(waiting):
                if len(running) >= pool.workers:
                    break
                states = [registry.status(d) for d in job.deps]
                tried = [registry.status(c["id"]) for c in job.candidates]  # tuning runs
                error = (
                    f"prior {job.deps[0]} failed"
                    if "failed" in states
                    else "every tuning candidate failed"
                    if tried and all(t == "failed" for t in tried)
                    else None
                )
                if error:
                    registry.claim(job.id, owner)
                    registry.finish(job.id, error=error)
                    waiting.remove(job)
                    failed += 1
                elif (
                    all(s == "done" for s in states)
                    and all(t in ("done", "failed") for t in tried)
                    and registry.claim(job.id, owner)
                ):
                    needs = [*job.deps, *(c["id"] for c in job.candidates)]
                    deps = {d: str(registry.job_dir(d)) for d in needs}
                    handle = pool.submit(execute, asdict(job), str(registry.job_dir(job)), deps)
                    running[handle] = job
                    waiting.remove(job)
            show()
            if not running:
                if waiting:  # deps held by another sweep process: wait for it
                    time.sleep(2)
                continue
            for handle in pool.wait(list(running)):
                job = running.pop(handle)
                try:
                    res = pool.result(handle)
                except Exception as e:  # the worker process itself died
                    res = {"ok": False, "error": f"worker died: {e}", "host": None}
                registry.finish(job.id, error=res["error"], host=res["host"])
                if res["ok"]:
                    done += 1
                else:
                    failed += 1
                    console.print(f"[red]failed[/] {job.id} {job.labels}: {res['error']}")
            show()


def describe(sweep: Sweep) -> str:
    lines = [f"{sweep.name}: {len(sweep.priors)} priors, {len(sweep.runs)} runs"]
    lines += [f"  {j.id}  prior {j.labels['prior']}" for j in sweep.priors]
    return "\n".join(lines)
