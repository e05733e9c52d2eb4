"""The README's quickstart runs as written (at bounded sizes), and the defaults it relies
on fit the task it uses: the README can never drift from the code again."""

import re
import shlex
import subprocess
import sys
from pathlib import Path

from priorlab.config import TrainConfig
from priorlab.tasks import make_task
from priorlab.tasks.pools import run_pools

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART_TASK = {"steps": 2, "ops": ["+", "-"]}

# The README's sizes, made small enough for CI. Each must match: a README that changes its
# sizes fails here until this table follows it.
BOUNDED = [
    (r"--steps 300\b", "--steps 30"),
    (r"--budget 2048\b", "--budget 64"),
    (r"-n 8\b", "-n 2"),
]
EXTRA = {
    "pretrain": ["--set", "corpus_size=300", "--set", "size=0.1m"],
    "train": ["--set", "eval_problems=16", "--set", "eval_samples=2"]
    + ["--set", "prompts_per_step=4", "--set", "group_size=4"],
    "eval": ["--set", "problems=16"],
}


def quickstart_commands() -> list[str]:
    """The shell lines of the README's block that follows `<!-- quickstart -->`."""
    text = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- quickstart -->\s*```bash\n(.*?)```", text, re.S)
    assert block, "README.md: no ```bash block after <!-- quickstart -->"
    joined = block.group(1).replace("\\\n", " ")
    return [line.strip() for line in joined.splitlines() if line.strip()]


def test_the_default_train_pool_fits_the_quickstarts_task():
    """The quickstart trains on 2-step +/- arith, which holds 3,191 distinct train problems:
    a default of 4,000 stopped `priorlab train` there. Every built-in task's default fits."""
    n = TrainConfig().train_problems
    for name, params in [("arith", QUICKSTART_TASK), ("arith", {}), ("countdown", {})]:
        pools = run_pools(make_task(name, **params), seed=0, train_problems=n, eval_problems=8)
        assert len(pools.train) == n, (name, params)


def test_the_quickstart_is_pretrain_train_eval():
    commands = [c.split()[:2] for c in quickstart_commands()]
    assert commands == [["priorlab", "pretrain"], ["priorlab", "train"], ["priorlab", "eval"]]


def test_the_readme_quickstart_runs_at_bounded_sizes(tmp_path):
    """Each command of the block, typed in a fresh directory, with only its sizes shrunk."""
    for line in quickstart_commands():
        for pattern, small in BOUNDED:
            line = re.sub(pattern, small, line)
        args = shlex.split(line)
        assert args[0] == "priorlab"
        args = [sys.executable, "-m", "priorlab.cli", *args[1:], *EXTRA[args[1]]]
        done = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"{line}\n{done.stderr[-2000:]}"
    for pattern, _ in BOUNDED:
        assert any(re.search(pattern, c) for c in quickstart_commands()), pattern
    assert (tmp_path / "runs/grpo/policy").is_dir()
    assert (tmp_path / "runs/grpo-eval").is_dir()
