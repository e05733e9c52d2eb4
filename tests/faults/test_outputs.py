"""`train --out` onto a directory that holds a run: refused unless --overwrite; with it, the
old run is moved aside in one rename and comes back whole if the new run fails."""

import json

from tests.faults.conftest import cli


def _train(prior, out, *extra, algo="grpo"):
    return cli(
        "train", "--algo", algo, "--model", prior, "--out", out, "--budget", 64,
        "--set", "eval_problems=4", "--set", "eval_samples=2", "--set", "prompts_per_step=8",
        "--set", "group_size=4", "--set", "dev_every=0", "--set", "train_problems=500",
        "--set", "max_new_tokens=16", "-q", *extra,
    )  # fmt: skip


def _files(path):
    return {p.relative_to(path): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def test_train_into_a_run_directory_is_refused_then_overwritten_atomically(tiny_prior, tmp_path):
    out = tmp_path / "run"
    assert _train(tiny_prior, out).returncode == 0
    first = _files(out)
    res = _train(tiny_prior, out, "--seed", 1)
    assert res.returncode == 2 and "already holds a run" in res.stderr
    assert "--overwrite" in res.stderr and _files(out) == first
    res = _train(tiny_prior, out, "--seed", 1, "--model", tmp_path / "no-such-prior", "--overwrite")
    assert res.returncode == 2 and "no-such-prior" in res.stderr
    assert _files(out) == first  # a failed replacement restores the old run
    assert list(tmp_path.iterdir()) == [out]  # and leaves nothing aside
    res = _train(tiny_prior, out, "--seed", 1, "--overwrite")
    assert res.returncode == 0, res.stderr
    assert json.loads((out / "summary.json").read_text())["seed"] == 1
    assert json.loads((out / "config.json").read_text())["seed"] == 1
    assert list(tmp_path.iterdir()) == [out]


def test_a_diverging_train_exits_2_keeps_its_log_and_saves_no_weights(tiny_prior, tmp_path):
    out = tmp_path / "run"
    res = _train(tiny_prior, out, "--set", "lr=1e30", algo="sft")  # sft: a gradient on every row
    assert res.returncode == 2, res.stderr
    assert "training diverged; lower the learning rate" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert (out / "metrics.jsonl").is_file() and not (out / "policy").exists()
    assert not (out / "summary.json").exists()
    text = (out / "metrics.jsonl").read_text()
    assert "NaN" not in text and "Infinity" not in text
