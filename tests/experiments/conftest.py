import pytest

TINY = {
    "name": "tiny",
    "task": "arith",
    "task_params": {"steps": 2, "ops": ["+", "-"]},
    "budget": 64,
    "seeds": [0, 1],
    "algos": ["sft", "grpo", "ei"],
    "priors": [{"label": "short", "steps": 20}, {"label": "long", "steps": 40}],
    "pretrain": {"size": "0.1m", "corpus_size": 200, "lr": 2.0e-3, "batch_size": 16},
    "train": {
        "train_problems": 64,
        "max_new_tokens": 12,
        "eval_problems": 6,
        "eval_samples": 4,
        "prompts_per_step": 8,
        "group_size": 4,
        "rounds": 1,
        "ft_epochs": 1,
    },
}


@pytest.fixture
def tiny_spec():
    """2 priors x 3 algorithms x 2 seeds of a 0.1M model: a whole sweep in seconds."""
    import copy

    return copy.deepcopy(TINY)


def kill_9_sweep(spec: dict, out, *, once_done: int, poll: float = 0.2) -> list[str]:
    """Start `priorlab compare` on `spec` into `out`, kill -9 the sweep process once
    `once_done` jobs are done (its workers die with it); returns the command, to resume."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import yaml

    from priorlab.experiments.store import Registry

    path = out.parent / f"{out.name}.yaml"
    path.write_text(yaml.safe_dump(spec))
    cmd = [sys.executable, "-m", "priorlab.cli", "compare", str(path), "--out", str(out)]
    cmd += ["--workers", "2", "-q"]
    proc = subprocess.Popen(cmd, start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if (out / "registry.sqlite").is_file() and Registry(out).counts()["done"] >= once_done:
            break
        time.sleep(poll)
    assert proc.poll() is None, "the sweep ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)  # the sweep process only: its workers die with it
    proc.wait()
    time.sleep(1)
    return cmd
