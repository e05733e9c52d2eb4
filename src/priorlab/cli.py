"""The command line: the only module that knows about terminal arguments.

Every command takes `--config FILE.yaml` and repeated `--set field=value` overrides;
a few common fields have their own flags. A user mistake prints one line and exits 2.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import shutil
import sys
from pathlib import Path
from typing import Optional

import typer

from priorlab.config import (
    EvalConfig,
    PretrainConfig,
    TrainConfig,
    build,
    load_yaml,
    merge,
    parse_overrides,
    validate_eval,
    validate_pretrain,
)
from priorlab.errors import PriorlabError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="priorlab: does the RL algorithm matter, or does the prior set the ceiling?",
    epilog="pretrain, train and eval take config fields: `priorlab fields pretrain|train|eval` "
    "lists each with its default and meaning; set them with --set field=value or --config "
    "FILE.yaml. compare takes a sweep spec (`priorlab presets`). Docs: docs/ (make docs).",
)

LOG_LEVELS = ("debug", "info", "warning", "error")


class _Stderr(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a record comes (a test runner swaps it)."""

    stream = property(lambda self: sys.stderr, lambda self, value: None)


@app.callback()
def _logging(
    log_level: str = typer.Option(
        "warning", "--log-level", help=f"Diagnostics on stderr: {', '.join(LOG_LEVELS)}."
    ),
):
    """Send the `priorlab` logger's diagnostics at `log_level` and above to stderr."""
    if log_level.lower() not in LOG_LEVELS:
        raise PriorlabError(f"log-level: {log_level!r} is not one of {', '.join(LOG_LEVELS)}")
    level = getattr(logging, log_level.upper())
    handler = _Stderr()  # stderr: stdout keeps the results
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    package = logging.getLogger("priorlab")
    for old in [h for h in package.handlers if isinstance(h, _Stderr)]:
        package.removeHandler(old)  # one, however often the app is invoked in a process
    package.addHandler(handler)
    package.setLevel(level)


ConfigOpt = typer.Option(None, "--config", "-c", help="YAML file of config fields.")
SetOpt = typer.Option(
    None,
    "--set",
    "-s",
    help="Override a config field: --set lr=3e-4 (repeatable; `priorlab fields` lists them).",
)


def _config(cls, path, sets, **flags):
    """The command's config from its YAML file, `--set` overrides and flags, every check
    that needs no model made (refused before any directory is created or work starts)."""
    from priorlab.validate import validate_run

    data = merge(load_yaml(path), parse_overrides(sets or []))
    data = merge(data, {k: v for k, v in flags.items() if v is not None})
    cfg = build(cls, data)
    checks = {PretrainConfig: validate_pretrain, TrainConfig: validate_run}
    checks.get(cls, validate_eval)(cfg)
    return cfg


def _writable(path: Path) -> None:
    """Create `path` and prove it takes a file, before any work is spent on filling it."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".priorlab-write-check"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise PriorlabError(f"out: cannot write to {path} ({e.strerror})") from None


@contextlib.contextmanager
def _fresh_out(out: str, overwrite: bool):
    """Run a command into `out`, which must be new or empty unless `overwrite`: then the
    old contents are moved aside (one rename) and restored if the command fails; they are
    deleted only once the new run is complete. Two runs are never mixed in one directory."""
    path = Path(out)
    old = None
    if path.is_dir() and any(path.iterdir()):
        if not overwrite:
            held = ", ".join(sorted(p.name for p in path.iterdir())[:4])
            raise PriorlabError(
                f"out: {path} already holds a run ({held}); pass --overwrite to replace it "
                "(the old one is kept aside until the new one finishes) or choose another --out"
            )
        old = path.with_name(f"{path.name}.old-{os.getpid()}")
        os.replace(path, old)
        typer.echo(f"previous contents moved aside to {old} until this run finishes", err=True)
    created = not path.exists()
    try:
        _writable(path)
        yield
    except BaseException:
        if old is not None:
            shutil.rmtree(path, ignore_errors=True)
            os.replace(old, path)
        elif created and path.is_dir() and not any(path.iterdir()):
            path.rmdir()  # failed before writing anything: leave no trace
        raise
    if old is not None:
        shutil.rmtree(old)


OverwriteOpt = typer.Option(
    False, "--overwrite", help="Replace a non-empty --out (kept aside until this run finishes)."
)


def _fields_help(cls) -> str:
    def default(f):
        return f.default if f.default is not dataclasses.MISSING else f.default_factory()

    return "\n".join(
        f"  {f.name} = {default(f)!s}  # {f.metadata.get('help', '')}"
        for f in dataclasses.fields(cls)
    )


@app.command()
def pretrain(
    config: Optional[Path] = ConfigOpt,
    set: Optional[list[str]] = SetOpt,
    out: Optional[str] = typer.Option(None, help="Checkpoint directory."),
    task: Optional[str] = typer.Option(None, help="arith or countdown."),
    steps: Optional[int] = typer.Option(None, help="Pretraining steps."),
    sft: Optional[str] = typer.Option(None, help="none, light, heavy or N steps."),
    seed: Optional[int] = typer.Option(None),
    overwrite: bool = OverwriteOpt,
    quiet: bool = typer.Option(False, "--quiet", "-q"),
):
    """Pretrain a prior with explicit strength knobs (steps, wrong_frac, withhold, sft).

    Fields (--set or --config): `priorlab fields pretrain`.
    """
    from priorlab.priors import pretrain as run

    cfg = _config(PretrainConfig, config, set, out=out, task=task, steps=steps, sft=sft, seed=seed)
    with _fresh_out(cfg.out, overwrite):
        policy = run(cfg, quiet=quiet)
    typer.echo(f"prior saved to {cfg.out}")
    for role, score in policy.meta.get("role_quality", {}).items():
        what = "hinted solutions correct" if role == "hint" else "picks the gold (chance 0.5)"
        typer.echo(f"  {role}: {score:.2f} {what}")


@app.command()
def train(
    config: Optional[Path] = ConfigOpt,
    set: Optional[list[str]] = SetOpt,
    algo: Optional[str] = typer.Option(None, help="Algorithm preset (priorlab algos)."),
    model: Optional[str] = typer.Option(None, help="Prior checkpoint directory."),
    out: Optional[str] = typer.Option(None, help="Run directory."),
    budget: Optional[int] = typer.Option(None, help="Rollout budget in completions."),
    seed: Optional[int] = typer.Option(None),
    overwrite: bool = OverwriteOpt,
    quiet: bool = typer.Option(False, "--quiet", "-q"),
):
    """Train one algorithm from a prior at a fixed rollout budget, then evaluate it.

    Fields (--set or --config): `priorlab fields train`. Algorithms: `priorlab algos`
    (--set algo_params.<field>=...); reward sources: `priorlab rewards` (--set reward=...
    --set reward_params.<name>=...).
    """
    from priorlab.train import train as run

    cfg = _config(
        TrainConfig, config, set, algo=algo, model=model, out=out, rollout_budget=budget, seed=seed
    )
    with _fresh_out(cfg.out, overwrite):
        summary = run(cfg, quiet=quiet)
    i, f = summary["initial"], summary["final"]
    result = (
        f"pass@1 {i['eval/pass@1']:.3f} -> {f['eval/pass@1']:.3f}"
        if cfg.test_eval
        else "not evaluated on test (test_eval=false)"
    )
    typer.echo(f"{cfg.algo}: {result}, samples {summary['samples']}; run in {cfg.out}")


@app.command("eval")
def eval_(
    config: Optional[Path] = ConfigOpt,
    set: Optional[list[str]] = SetOpt,
    model: Optional[str] = typer.Option(None, help="Policy checkpoint directory."),
    out: Optional[str] = typer.Option(None, help="Output directory."),
    samples: Optional[int] = typer.Option(None, "--samples", "-n", help="Samples per problem."),
    k: Optional[int] = typer.Option(None, help="Largest k to report."),
    seed: Optional[int] = typer.Option(None),
):
    """pass@k (unbiased), maj@k, greedy maj@1 and entropy on held-out problems.

    Fields (--set or --config): `priorlab fields eval`.
    """
    from priorlab.evaluate import evaluate_policy

    cfg = _config(EvalConfig, config, set, model=model, out=out, samples=samples, k=k, seed=seed)
    _writable(Path(cfg.out))
    metrics = evaluate_policy(cfg)
    typer.echo(json.dumps(metrics, indent=2))


@app.command()
def demo(
    out: str = typer.Option("runs/demo", help="Directory for the prior, the runs and demo.json."),
    budget: int = typer.Option(8192, help="Rollout budget per algorithm, in completions."),
    seed: int = typer.Option(0),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
):
    """End to end in minutes: pretrain a prior, train sft/ei/rcrl/ppo/grpo/dapo, compare."""
    from priorlab.demo import run_demo

    run_demo(out, budget=budget, seed=seed, quiet=quiet)


@app.command()
def compare(
    spec: str = typer.Argument(
        "default", help="Sweep spec: a YAML file or a preset (priorlab presets)."
    ),
    set: Optional[list[str]] = SetOpt,
    out: Optional[str] = typer.Option(None, help="Sweep directory (default: runs/<name>)."),
    executor: str = typer.Option("local", help="local (process pool) or ray."),
    workers: Optional[int] = typer.Option(None, help="Parallel jobs (default: the CPU count)."),
    address: Optional[str] = typer.Option(None, help="Ray cluster address (with --executor ray)."),
    report: bool = typer.Option(True, help="Write report.{json,md,html} when all runs are done."),
    extend: bool = typer.Option(
        False, help="Add this spec's jobs to a sweep directory that holds another spec."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
):
    """Algorithm or prior? Run a sweep at equal rollout budget, then report with CIs.

    Rerunning the same sweep skips finished runs and retries failed or interrupted ones.
    A spec's keys (also for --set): name, task, task_params, budget, seeds, algos, rewards,
    levels, priors, pretrain, train, tune, margin, metric, resources; `pretrain:` and
    `train:` take the fields of `priorlab fields pretrain` and `priorlab fields train`.
    """
    from priorlab import api

    if workers is not None and workers < 1:
        raise PriorlabError(f"workers: must be >= 1, got {workers}")
    result = api.compare(spec, out, overrides=parse_overrides(set or []), executor=executor,
                         workers=workers, address=address, quiet=quiet, report=report,
                         extend=extend)  # fmt: skip
    if result.counts["failed"]:
        sys.exit(1)


@app.command("report")
def report_(
    runs_dir: Path = typer.Argument(..., help="A sweep directory (from priorlab compare)."),
    n_boot: int = typer.Option(1000, help="Bootstrap resamples for every CI."),
    seed: int = typer.Option(0, help="Seed of the bootstrap."),
    partial: bool = typer.Option(
        False, help="Report on the finished runs while others are not: marked PARTIAL."
    ),
):
    """Recompute report.json, report.md and report.html from a sweep's per-sample results."""
    from priorlab import api

    if not runs_dir.is_dir():
        raise PriorlabError(f"runs_dir: no such directory: {runs_dir}")
    result = api.report(runs_dir, n_boot=n_boot, seed=seed, partial=partial)
    typer.echo(result["verdict_line"])
    support = (result.get("support") or {}).get("lines", [])
    for line in result.get("verdict_lines", []) + result.get("ceiling_lines", []) + support:
        typer.echo(f"  {line}")
    typer.echo(f"wrote {runs_dir / 'report.html'}, report.json, report.md")


@app.command()
def status(runs_dir: Path = typer.Argument(..., help="A sweep directory.")):
    """Every job of a sweep: state, attempts, seconds, host, error."""
    from priorlab.experiments.store import Registry

    if not (runs_dir / "registry.sqlite").is_file():
        raise PriorlabError(f"runs_dir: no registry.sqlite in {runs_dir}")
    registry = Registry(runs_dir)
    for r in registry.rows():
        secs = f"{r['seconds']:.0f}s" if r["seconds"] else "-"
        typer.echo(
            f"{r['id']}  {r['status']:8s} x{r['attempts']}  {secs:>6s}  {r['labels']}"
            + (f"  error: {r['error']}" if r["error"] else "")
        )
    typer.echo(json.dumps(registry.counts()))


@app.command()
def presets():
    """The built-in sweep specs for priorlab compare."""
    from priorlab.experiments.spec import PRESET_DIR, preset_names

    for name in preset_names():
        first = (PRESET_DIR / f"{name}.yaml").read_text().splitlines()[0].lstrip("# ")
        typer.echo(f"{name:14s} {first}")


@app.command()
def rewards():
    """List the reward sources (the `reward` field of train and of sweep specs) and the
    parameters each takes through `reward_params`."""
    from priorlab.rewards import REWARDS, reward_params

    for name, fn in REWARDS.items():
        typer.echo(f"{name:22s} {(fn.__doc__ or '').strip().splitlines()[0]}")
        params = ", ".join(f"{k}={v!r}" for k, v in reward_params(name).items())
        if params:
            typer.echo(f"{'':22s}   reward_params: {params}")


@app.command()
def algos():
    """List the algorithm presets and the fields each sets."""
    from priorlab.algos import PRESETS

    base = dataclasses.asdict(PRESETS["grpo"].__class__("base"))
    for name, algo in PRESETS.items():
        changed = {
            k: v for k, v in dataclasses.asdict(algo).items() if k != "name" and v != base[k]
        }
        typer.echo(f"{name:14s} {changed}")


@app.command()
def fields(command: str = typer.Argument(..., help="pretrain, train or eval")):
    """Every config field of a command with its default and help."""
    classes = {"pretrain": PretrainConfig, "train": TrainConfig, "eval": EvalConfig}
    if command not in classes:
        raise PriorlabError(f"command: {command!r} is not one of {', '.join(classes)}")
    typer.echo(_fields_help(classes[command]))


def main() -> None:
    """Entry point: user mistakes (PriorlabError, which unknown names and bad task knobs
    raise too) become one line on stderr and exit code 2; an interrupt prints "interrupted"
    and exits 130; anything else, a ValueError from a bug included, keeps its traceback."""
    try:
        code = app(standalone_mode=False)  # typer turns Ctrl-C into an exit code 130 here
    except PriorlabError as e:
        typer.echo(f"error: {e}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as e:  # click's usage errors, whichever click typer brings
        kinds = {cls.__name__ for cls in type(e).__mro__}
        if "ClickException" in kinds:  # unknown command or option, bad or missing value
            typer.echo(f"error: {e.format_message()} (see --help)", err=True)
            sys.exit(2)
        if "Abort" in kinds:  # click turns Ctrl-C into Abort outside standalone mode
            typer.echo("interrupted", err=True)
            sys.exit(130)
        raise
    if code == 130:
        typer.echo("interrupted", err=True)
    if isinstance(code, int) and not isinstance(code, bool) and code:
        sys.exit(code)


if __name__ == "__main__":
    main()
