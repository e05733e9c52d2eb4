import pytest

from priorlab.algos import PRESETS, make_algorithm
from priorlab.config import (
    EvalConfig,
    TrainConfig,
    build,
    load_yaml,
    parse_overrides,
    validate_eval,
    validate_train,
)
from priorlab.errors import ConfigError


def test_overrides_parse_yaml_values_and_dotted_keys():
    out = parse_overrides(["lr=3e-4", "algo_params.eps_high=0.28", "withhold=['*']", "out=x"])
    assert out == {"lr": 3e-4, "algo_params": {"eps_high": 0.28}, "withhold": ["*"], "out": "x"}


def test_unknown_field_names_the_field_and_lists_valid_ones():
    with pytest.raises(ConfigError, match="lrate: unknown field.*valid: .*lr"):
        build(TrainConfig, {"lrate": 1.0})


def test_mistyped_value_names_the_field():
    with pytest.raises(ConfigError, match="group_size: expected int"):
        build(TrainConfig, {"group_size": "eight"})


@pytest.mark.parametrize(
    "field,value,pattern",
    [
        ("lr", -1e-4, "lr: must be > 0"),
        ("temperature", 0.0, "temperature"),
        ("top_p", 1.5, "top_p"),
        ("rollout_budget", 0, "rollout_budget"),
    ],
)
def test_invalid_hyper_parameters(field, value, pattern):
    with pytest.raises(ConfigError, match=pattern):
        validate_train(build(TrainConfig, {field: value}))


def test_eval_k_larger_than_n_is_refused():
    with pytest.raises(ConfigError, match="k: must be <= samples"):
        validate_eval(build(EvalConfig, {"samples": 4, "k": 8}))


def test_missing_and_bad_yaml_files(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_yaml(tmp_path / "none.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("lr: [1,\n")
    with pytest.raises(ConfigError, match="bad.yaml line"):
        load_yaml(bad)


def test_unknown_algorithm_lists_presets():
    with pytest.raises(ConfigError, match="algo: unknown algorithm 'trpo'; valid: grpo"):
        make_algorithm("trpo")


def test_preset_parts_can_be_overridden():
    algo = make_algorithm("grpo", aggregation="token_mean")
    assert algo.aggregation == "token_mean" and algo.advantage == "grpo"
    with pytest.raises(ConfigError, match="algo.aggregation"):
        make_algorithm("grpo", aggregation="mean_of_means")
    with pytest.raises(ConfigError, match="algo.clip: no such field"):
        make_algorithm("grpo", clip=0.3)


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_is_valid(name):
    assert make_algorithm(name).name == name


def test_dapo_differs_from_grpo_where_the_paper_says():
    grpo, dapo = PRESETS["grpo"], PRESETS["dapo"]
    assert (dapo.eps_low, dapo.eps_high) == (0.2, 0.28)
    assert dapo.kl_coef == 0 and dapo.dynamic_sampling and dapo.aggregation == "token_mean"
    assert grpo.aggregation == "seq_mean_token_mean" and grpo.eps_high == 0.2
