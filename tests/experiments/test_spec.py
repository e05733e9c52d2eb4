import copy
from pathlib import Path

import pytest

from priorlab.config import TrainConfig
from priorlab.errors import ConfigError
from priorlab.experiments import expand, load_spec, preset_names
from priorlab.run import Run
from tests.experiments.conftest import TINY


def test_expand_is_the_full_grid_with_priors_first(tiny_spec):
    sweep = expand(tiny_spec)
    assert len(sweep.priors) == 2 and len(sweep.runs) == 2 * 3 * 2
    assert [j.kind for j in sweep.jobs[:2]] == ["prior", "prior"]
    assert {(r.labels["algo"], r.labels["prior"], r.labels["seed"]) for r in sweep.runs} == {
        (a, p, s) for a in ("sft", "grpo", "ei") for p in ("short", "long") for s in (0, 1)
    }
    prior_ids = {p.id for p in sweep.priors}
    assert all(r.deps[0] in prior_ids for r in sweep.runs)
    assert all(r.config["rollout_budget"] == 64 for r in sweep.runs)


def test_ids_hash_the_resolved_config(tiny_spec):
    a = expand(tiny_spec)
    assert [j.id for j in a.jobs] == [j.id for j in expand(tiny_spec).jobs]
    assert len({j.id for j in a.jobs}) == len(a.jobs)
    tiny_spec["priors"][0]["label"] = "renamed"  # labels are cosmetic
    assert [j.id for j in expand(tiny_spec).jobs] == [j.id for j in a.jobs]
    tiny_spec["budget"] = 96  # changes every run, no prior
    b = expand(tiny_spec)
    assert [p.id for p in b.priors] == [p.id for p in a.priors]
    assert not {r.id for r in b.runs} & {r.id for r in a.runs}
    tiny_spec["budget"] = 64
    tiny_spec["algos"] = [{"name": "grpo", "params": {"lr": 1e-4}}]  # = grpo's default lr
    same = {r.id for r in expand(tiny_spec).runs}
    assert same == {r.id for r in a.runs if r.labels["algo"] == "grpo"}


def test_grids_over_algorithm_parts_priors_and_rewards(tiny_spec):
    tiny_spec["algos"] = [
        {"name": "grpo", "grid": {"aggregation": ["token_mean", "seq_mean_token_mean"]}}
    ]
    tiny_spec["priors"] = {"grid": {"steps": [20, 40], "sft": ["none", "heavy"]}}
    tiny_spec["rewards"] = ["verifier", "dense_steps"]
    sweep = expand(tiny_spec)
    assert len(sweep.priors) == 4 and len(sweep.runs) == 2 * 4 * 2 * 2
    algos = {r.labels["algo"] for r in sweep.runs}
    assert "grpo[aggregation=token_mean]/dense_steps" in algos
    assert {p.labels["prior"] for p in sweep.priors} >= {"steps=20,sft=none", "steps=40,sft=heavy"}


@pytest.mark.parametrize(
    "change, field",
    [
        ({"algos": ["grpo", "nope"]}, "algos[1]"),
        ({"algos": [{"name": "grpo", "params": {"eps_low": -1}}]}, "algos[0].eps_low"),
        ({"algos": []}, "algos"),
        ({"seeds": []}, "seeds"),
        ({"priors": []}, "priors"),
        ({"priors": {"grid": {"steps": []}}}, "priors.steps"),
        ({"budget": 0}, "budget"),
        ({"rewards": ["verifier", "oracle"]}, "rewards[1]"),
        ({"train": {"learning_rate": 1}}, "train.learning_rate"),
        ({"train": {"temperature": -1.0}}, "train.temperature"),
        ({"priors": [{"label": "x", "wrong_frac": 2.0}]}, "priors[0].wrong_frac"),
        ({"priors": [{"label": "x", "sft": "lots"}]}, "priors[0].sft"),
        ({"algoz": ["grpo"]}, "algoz"),
        ({"task_params": {"stepz": 2}}, "task_params"),
        ({"algos": ["ppo"], "rewards": ["serl"]}, "rewards"),  # SERL trains its judge by GRPO
        ({"algos": ["ei"], "rewards": ["delta_belief"]}, "rewards"),
        ({"train": {"reward_params": {"tau_pol": 0.5}}}, "train.reward_params.tau_pol"),
    ],
)
def test_malformed_specs_name_the_field(tiny_spec, change, field):
    tiny_spec.update(change)
    with pytest.raises(ConfigError) as e:
        expand(tiny_spec)
    assert e.value.field == field, str(e.value)


def test_every_preset_expands():
    assert {"default", "havrilla2024", "zoo", "sft-squeeze", "discovery", "seed-levels"} <= set(
        preset_names()
    )
    for name in preset_names():
        assert expand(load_spec(name)).runs


def test_default_experiment_shape():
    sweep = expand(load_spec("default"))
    assert len(sweep.priors) >= 3
    algos = {r.labels["algo"] for r in sweep.runs}
    assert {"ei", "ppo", "grpo", "dapo", "sft"} <= algos  # rcrl: algorithm-level (issue 24)
    assert len({r.labels["seed"] for r in sweep.runs}) >= 2
    assert len({r.config["rollout_budget"] for r in sweep.runs}) == 1


def test_unknown_preset_lists_the_presets():
    with pytest.raises(ConfigError, match="presets: .*default"):
        load_spec("no-such-sweep")


# --- levels ------------------------------------------------------------------------------

LEVELS = Path(__file__).with_name("levels.yaml")  # algorithm, refinement, reward; 2 priors, 2 seeds


def test_levels_are_the_union_of_their_grids_with_shared_runs_once():
    sweep = expand(load_spec(LEVELS))
    # (ei, ppo) + (grpo, dapo) + (grpo x verifier, random), x 2 priors x 2 seeds;
    # grpo + verifier is in refinement and reward: its 4 runs are made once
    assert len(sweep.priors) == 2 and len(sweep.runs) == (2 + 2 + 2 - 1) * 2 * 2
    assert len({r.id for r in sweep.runs}) == len(sweep.runs)
    shared = [r for r in sweep.runs if r.labels["algo"] == "grpo/verifier"]
    assert len(shared) == 4
    assert all(
        r.labels["levels"]
        == {
            "refinement": {"factor": "algo", "method": "grpo"},
            "reward": {"factor": "reward", "method": "verifier"},
        }
        for r in shared
    )
    members = {name: set() for name in ("algorithm", "refinement", "reward")}
    for run in sweep.runs:
        for name, tag in run.labels["levels"].items():
            members[name].add((tag["factor"], tag["method"]))
    assert members == {
        "algorithm": {("algo", "ei"), ("algo", "ppo")},
        "refinement": {("algo", "grpo"), ("algo", "dapo")},
        "reward": {("reward", "verifier"), ("reward", "random")},
    }


def test_levels_do_not_change_run_ids():
    spec = load_spec(LEVELS)
    by_level = expand(spec)
    flat = {**spec, "algos": ["grpo"], "rewards": ["verifier", "random"]}
    del flat["levels"]
    reward_level = {r.id for r in by_level.runs if "reward" in r.labels["levels"]}
    assert reward_level == {r.id for r in expand(flat).runs}
    assert all("levels" not in r.labels for r in expand(flat).runs)


def test_a_level_varying_algo_and_reward_compares_both(tiny_spec):
    del tiny_spec["algos"]
    tiny_spec["levels"] = {"mixed": {"algos": ["grpo", "ei"], "rewards": ["verifier", "random"]}}
    runs = expand(tiny_spec).runs
    assert len(runs) == 2 * 2 * 2 * 2
    tags = {r.labels["levels"]["mixed"]["method"] for r in runs}
    assert tags == {"grpo/verifier", "grpo/random", "ei/verifier", "ei/random"}
    assert {r.labels["levels"]["mixed"]["factor"] for r in runs} == {"algo+reward"}


@pytest.mark.parametrize(
    "levels, field",
    [
        ([], "levels"),
        ({}, "levels"),
        ({"reward": ["grpo"]}, "levels.reward"),
        ({"reward": {"algoz": ["grpo"]}}, "levels.reward.algoz"),
        ({"reward": {"rewards": ["verifier"]}}, "levels.reward.algos"),
        ({"reward": {"algos": ["grpo"], "rewards": []}}, "levels.reward.rewards"),
        (
            {"reward": {"algos": ["grpo"], "rewards": ["verifier", "random", "oracle"]}},
            "levels.reward.rewards[2]",
        ),
        (
            {"reward": {"algos": ["grpo"], "rewards": [{"label": "verifier"}]}},
            "levels.reward.rewards[0]",
        ),
        ({"algorithm": {"algos": ["ei", "nope"]}}, "levels.algorithm.algos[1]"),
        (
            {"a": {"algos": [{"name": "grpo", "params": {"eps_low": -1}}]}},
            "levels.a.algos[0].eps_low",
        ),
        ({"a": {"algos": ["grpo", "grpo"]}}, "levels.a.algos"),
        # one label, two configurations: the report could not tell the runs apart
        (
            {"a": {"algos": [{"name": "grpo", "params": {"lr": 1e-3}}]}, "b": {"algos": ["grpo"]}},
            "levels",
        ),
    ],
)
def test_malformed_levels_name_the_field(tiny_spec, levels, field):
    del tiny_spec["algos"]
    tiny_spec["levels"] = levels
    with pytest.raises(ConfigError) as e:
        expand(tiny_spec)
    assert e.value.field == field, str(e.value)


@pytest.mark.parametrize("key", ["algos", "rewards"])
def test_levels_and_top_level_methods_exclude_each_other(tiny_spec, key):
    tiny_spec.pop("algos")
    tiny_spec[key] = ["grpo"] if key == "algos" else ["verifier"]
    tiny_spec["levels"] = {"a": {"algos": ["grpo"]}}
    with pytest.raises(ConfigError, match="either `levels` or top-level") as e:
        expand(tiny_spec)
    assert e.value.field == "levels"


@pytest.mark.parametrize("margin", [0, 1.5, "wide", True])
def test_a_bad_equivalence_margin_is_refused(margin):
    spec = copy.deepcopy(TINY)
    spec["margin"] = margin
    with pytest.raises(ConfigError, match="margin: a fraction of pass@1 in"):
        expand(spec)


@pytest.mark.parametrize("metric", ["maj@1", "Greedy", 1, None])
def test_a_bad_verdict_metric_is_refused(metric):
    spec = copy.deepcopy(TINY)
    spec["metric"] = metric
    with pytest.raises(ConfigError, match="metric: the verdict's metric, one of pass@1, greedy;"):
        expand(spec)


def test_the_spec_accepts_the_metrics_the_report_computes():
    from priorlab.experiments.spec import VERDICT_METRICS
    from priorlab.report.inference import DEFAULT_METRIC, METRICS

    assert VERDICT_METRICS == tuple(METRICS) and VERDICT_METRICS[0] == DEFAULT_METRIC


def test_the_verdict_metric_does_not_change_the_jobs():
    spec = copy.deepcopy(TINY)
    spec["metric"] = "greedy"
    assert [job.id for job in expand(spec).jobs] == [job.id for job in expand(TINY).jobs]


def _only_run(spec: dict) -> TrainConfig:
    """The TrainConfig of a spec's one algo x reward x seed, as its worker would build it."""
    (algo,), (reward,) = spec["algos"], spec.get("rewards", ["verifier"])
    name, params = (algo, {}) if isinstance(algo, str) else (algo["name"], algo["params"])
    fields = {**spec["train"], "task": spec["task"], "task_params": spec["task_params"]}
    fields |= {"rollout_budget": spec["budget"], "algo": name, "algo_params": params}
    return TrainConfig(**fields, reward=reward, seed=spec["seeds"][0], model="/nonexistent")


def test_an_ei_sweep_below_one_step_is_refused_before_any_job(tiny_spec):
    tiny_spec.update(algos=["ei"], budget=16, seeds=[0])  # one step: 8 prompts x 4 samples
    with pytest.raises(ConfigError) as at_expand:
        expand(tiny_spec)
    with pytest.raises(ConfigError) as at_run:
        Run(_only_run(tiny_spec))
    assert (at_expand.value.field, at_run.value.field) == ("budget", "rollout_budget")
    assert at_expand.value.message == at_run.value.message
    assert at_run.value.message == "must be >= prompts_per_step x group_size = 32, got 16"


@pytest.mark.parametrize(
    "change, spec_field, run_field",
    [
        ({"budget": 16}, "budget", "rollout_budget"),  # online
        ({"algos": ["sft"], "budget": 16}, "budget", "rollout_budget"),
        ({"train": {"group_size": 1}}, "train.group_size", "group_size"),  # grpo's minimum
        ({"algos": ["gfpo"], "train": {"group_size": 2}}, "train.group_size", "group_size"),
        ({"train": {"minibatches": 64}}, "train.minibatches", "minibatches"),
        ({"train": {"temperature": -1.0}}, "train.temperature", "temperature"),
        ({"train": {"lr": 0.0}}, "train.lr", "lr"),
        ({"algos": ["ppo"], "rewards": ["serl"]}, "rewards", "reward"),
        ({"algos": ["ei"], "rewards": ["delta_belief"]}, "rewards", "reward"),
        (
            {"train": {"reward_params": {"tau_pol": 0.5}}},
            "train.reward_params.tau_pol",
            "reward_params.tau_pol",
        ),
        (
            {"algos": [{"name": "grpo", "params": {"kl_coef": -1}}]},
            "algos[0].kl_coef",
            "algo.kl_coef",
        ),
    ],
)
def test_each_run_rule_refuses_a_sweep_as_it_refuses_the_run(
    tiny_spec, change, spec_field, run_field
):
    tiny_spec.update(algos=["grpo"], seeds=[0])
    tiny_spec.update({k: v for k, v in change.items() if k != "train"})
    tiny_spec["train"] = {**tiny_spec["train"], **change.get("train", {})}
    with pytest.raises(ConfigError) as at_expand:
        expand(tiny_spec)
    with pytest.raises(ConfigError) as at_run:
        Run(_only_run(tiny_spec))
    assert at_expand.value.field == spec_field, str(at_expand.value)
    assert at_run.value.field == run_field, str(at_run.value)
    assert at_expand.value.message == at_run.value.message


def test_an_exposure_dial_hashes_only_when_set(tiny_spec):
    base = {**tiny_spec, "task_params": {"steps": 2, "ops": ["+", "-", "*"]}}
    base["pretrain"] = {**base.get("pretrain", {}), "corpus_size": 300}
    plain = [j for j in expand(base).jobs if j.kind == "prior"]
    dial = {**base, "priors": [{"label": f"x{s}", "exposure": {"*": s}} for s in (0.0, 0.1)]}
    exposed = [j for j in expand(dial).jobs if j.kind == "prior"]
    assert len({j.id for j in exposed}) == 2 and plain[0].id not in {j.id for j in exposed}
    assert all("exposure" in j.config for j in plain + exposed)  # stored, hashed when set
    assert plain[0].config["exposure"] == {}
