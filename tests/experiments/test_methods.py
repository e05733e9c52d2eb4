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
