"""A sweep's reward entries with their own reward_params: variants side by side."""

import pytest

from priorlab.errors import ConfigError
from priorlab.experiments.spec import expand

BASE = {"budget": 256, "algos": ["grpo"], "priors": [{"steps": 10}]}


def test_a_reward_entry_sets_its_own_params_under_its_label():
    spec = {
        **BASE,
        "rewards": [
            "sdpo",
            {"name": "sdpo", "params": {"divergence": "jsd", "alpha": 0.5}, "label": "sdpo(jsd)"},
        ],
    }
    runs = expand(spec).runs
    by_label = {r.labels["reward"]: r for r in runs}
    assert set(by_label) == {"sdpo", "sdpo(jsd)"}
    assert by_label["sdpo"].config["reward_params"] == {}
    assert by_label["sdpo(jsd)"].config["reward_params"] == {"divergence": "jsd", "alpha": 0.5}
    assert by_label["sdpo(jsd)"].config["reward"] == "sdpo"
    assert by_label["sdpo"].id != by_label["sdpo(jsd)"].id
    assert by_label["sdpo(jsd)"].labels["algo"] == "grpo/sdpo(jsd)"


def test_a_plain_name_and_a_mapping_without_params_make_the_same_job():
    a = expand({**BASE, "rewards": ["random"]}).runs[0]
    b = expand({**BASE, "rewards": [{"name": "random"}]}).runs[0]
    assert a.id == b.id and a.labels == b.labels


@pytest.mark.parametrize(
    "entry, field",
    [
        ({"name": "sdpo", "params": {"nope": 1}}, "rewards[0].params.nope"),
        ({"name": "sdpo", "params": {"divergence": "l2"}}, "train.reward_params.divergence"),
        ({"name": "nope"}, "rewards[0]"),
        ({"name": "sdpo", "weight": 2}, "rewards[0].weight"),
        (3, "rewards[0]"),
    ],
)
def test_bad_reward_entries_name_the_field(entry, field):
    with pytest.raises(ConfigError) as e:
        expand({**BASE, "rewards": [entry]})
    assert e.value.field == field


def test_two_entries_with_one_label_are_refused():
    with pytest.raises(ConfigError) as e:
        expand({**BASE, "rewards": ["sdpo", {"name": "sdpo", "params": {"divergence": "jsd"}}]})
    assert e.value.field == "rewards"


def test_a_sweep_pairing_verifree_full_with_a_critic_is_refused_before_any_job():
    spec = {
        **BASE,
        "algos": ["ppo"],
        "rewards": [{"name": "reference_likelihood", "params": {"objective": "full"}}],
    }
    with pytest.raises(ConfigError) as e:
        expand(spec)
    assert e.value.field in ("rewards", "train.reward_params") and "ppo" in e.value.message


def test_an_algos_entry_sets_how_its_method_samples_over_the_specs_train():
    spec = {
        **BASE,
        "train": {"group_size": 8, "prompts_per_step": 4},
        "algos": [
            "grpo",
            {"name": "prorl", "train": {"temperature": 1.2}},
            {"name": "prorl", "label": "brorl", "train": {"group_size": 32, "prompts_per_step": 1}},
        ],
    }
    by_label = {r.labels["algo"]: r.config for r in expand(spec).runs}
    assert (by_label["grpo"]["temperature"], by_label["prorl"]["temperature"]) == (1.0, 1.2)
    assert (by_label["brorl"]["group_size"], by_label["brorl"]["prompts_per_step"]) == (32, 1)
    assert by_label["prorl"]["group_size"] == 8  # the spec's, where the entry says nothing
    budgets = {c["rollout_budget"] for c in by_label.values()}
    assert budgets == {256}  # the budget stays the spec's: equal for every method
    offline = {"name": "rcrl", "train": {"minibatch_size": 64, "ft_patience": 30}}
    (rcrl,) = expand({**BASE, "algos": [offline]}).runs
    assert (rcrl.config["minibatch_size"], rcrl.config["ft_patience"]) == (64, 30)
    plain = expand({**BASE, "algos": [{"name": "grpo", "train": {}}]}).runs[0]
    assert plain.id == expand(BASE).runs[0].id  # an empty `train` changes no job


@pytest.mark.parametrize(
    "train, field",
    [
        ({"rollout_budget": 512}, "algos[0].train.rollout_budget"),
        ({"eval_samples": 64}, "algos[0].train.eval_samples"),
        ([1], "algos[0].train"),
    ],
)
def test_an_algos_entry_cannot_set_what_makes_runs_comparable(train, field):
    with pytest.raises(ConfigError) as e:
        expand({**BASE, "algos": [{"name": "grpo", "train": train}]})
    assert e.value.field == field
