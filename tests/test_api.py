"""The public API: `from priorlab import ...`, and the example script that drives a sweep."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

import priorlab
from priorlab.config import EvalConfig, PretrainConfig, TrainConfig
from priorlab.errors import ConfigError

EXAMPLE = Path(__file__).parents[1] / "examples" / "python_api.py"


def test_the_api_and_the_config_classes_are_exported():
    from priorlab import EvalConfig as E
    from priorlab import PretrainConfig as P
    from priorlab import TrainConfig as T
    from priorlab import compare, evaluate, pretrain, report, train

    assert (P, T, E) == (PretrainConfig, TrainConfig, EvalConfig)
    for fn in (pretrain, train, evaluate, compare, report):
        assert callable(fn) and fn.__doc__ and fn.__module__ == "priorlab.api"
    assert set(priorlab.__all__) >= {"pretrain", "train", "evaluate", "compare", "report"}


def test_submodules_of_the_same_names_do_not_replace_the_functions():
    import priorlab.evaluate  # noqa: F401  (sets nothing on the package: its guard)
    import priorlab.report  # noqa: F401
    import priorlab.train  # noqa: F401
    from priorlab.report import build_report
    from priorlab.train import train as loop

    assert priorlab.train.__module__ == "priorlab.api" and loop.__module__ == "priorlab.train"
    assert priorlab.evaluate.__module__ == priorlab.report.__module__ == "priorlab.api"
    assert build_report.__module__ == "priorlab.report"


def test_import_priorlab_stays_cheap():
    code = "import sys, priorlab; print(sorted({'torch', 'pandas'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "[]", out.stderr


def test_config_objects_and_keyword_overrides(tmp_path):
    from priorlab.api import _config

    base = TrainConfig(algo="ppo", seed=3)
    cfg = _config(TrainConfig, base, {"seed": 4, "out": tmp_path / "r"})
    assert (cfg.algo, cfg.seed, cfg.out) == ("ppo", 4, str(tmp_path / "r"))
    assert _config(TrainConfig, None, {}) == TrainConfig()
    with pytest.raises(ConfigError, match="lrate"):
        _config(TrainConfig, None, {"lrate": 1})
    with pytest.raises(TypeError, match="expected a TrainConfig, got EvalConfig"):
        priorlab.train(EvalConfig())


def test_train_and_evaluate_return_their_summary_and_metrics(tiny_prior, tmp_path):
    summary = priorlab.train(
        model=tiny_prior,
        out=tmp_path / "r",
        algo="grpo",
        rollout_budget=16,
        prompts_per_step=4,
        group_size=4,
        max_new_tokens=8,
        train_problems=16,
        eval_problems=4,
        eval_samples=2,
        reward="random",
    )
    assert summary == json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["samples"] == 16
    metrics = priorlab.evaluate(
        model=tmp_path / "r" / "policy", out=tmp_path / "e", problems=4, samples=2, k=2
    )
    assert metrics == json.loads((tmp_path / "e" / "metrics.json").read_text())
    assert "eval/pass@2" in metrics


def test_the_example_drives_a_sweep_and_reads_its_report(tmp_path):
    out = tmp_path / "sweep"
    cmd = [sys.executable, str(EXAMPLE), str(out), "--size", "tiny", "--workers", "2"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    assert f"verdict: {report['verdict_line']}" in result.stdout
    assert len(list((out / "runs").glob("*/summary.json"))) == 4  # 2 algos x 2 seeds
    again = priorlab.report(out)  # recomputed from the stored samples, same bootstrap
    assert again["verdict_line"] == report["verdict_line"]
