"""Property-based fuzzing of every config's door (issue 27).

Hypothesis draws a config (pretrain, train, eval), one of its fields, or one of a nested
mapping's keys (the algorithm's fields under `algo_params`, the reward's parameters under
`reward_params`), and a value of any kind: None, booleans, huge and negative integers,
floats with NaN and infinities, short strings, lists, mappings, unknown keys. The door
(build + the config's own checks, what every CLI command, sweep spec and the Python API
call before any work) must accept it, or refuse it with a PriorlabError (one line and exit
2 on the command line: tests/faults/test_door.py): never another exception, which would be
a traceback. Examples are derandomized (the same ones in every run, bounded to seconds);
any failing example becomes a case in test_door.py.
"""

import json
from dataclasses import asdict, fields
from functools import partial

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from priorlab.algos import Algorithm
from priorlab.config import (
    EvalConfig,
    PretrainConfig,
    TrainConfig,
    build,
    validate_eval,
    validate_pretrain,
)
from priorlab.errors import PriorlabError
from priorlab.rewards import REWARDS, reward_params
from priorlab.validate import validate_run

CHECKS = {
    PretrainConfig: validate_pretrain,
    TrainConfig: partial(validate_run, on_disk=False),
    EvalConfig: validate_eval,
}

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.integers(-3, 3),
    st.floats(),
    st.floats(-2.0, 2.0),
    st.text(max_size=10),
    st.sampled_from(["2e-1", "8", "nan", "-inf", "grpo", "verifier", "", "1e400"]),
)
values = st.one_of(
    scalars,
    st.lists(scalars, max_size=3),
    st.dictionaries(st.text(max_size=6), scalars, max_size=2),
)
ALGO_KEYS = [f.name for f in fields(Algorithm) if f.name != "name"] + ["no_such_field"]
REWARD_KEYS = sorted({k for name in REWARDS for k in reward_params(name)}) + ["no_such_key"]


def door(cls, data: dict) -> None:
    """What every entrance does before any work: type, then the config's own checks."""
    CHECKS[cls](build(cls, data))


@st.composite
def bad_inputs(draw):
    cls = draw(st.sampled_from(list(CHECKS)))
    names = [f.name for f in fields(cls)] + ["no_such_field"]
    data = {draw(st.sampled_from(names)): draw(values)}
    if cls is TrainConfig and draw(st.booleans()):
        data["algo"] = draw(st.sampled_from(["grpo", "ppo", "dapo", "ei", "rcrl", "sft"]))
        data["algo_params"] = {draw(st.sampled_from(ALGO_KEYS)): draw(values)}
    if cls is TrainConfig and draw(st.booleans()):
        data["reward"] = draw(st.sampled_from(sorted(REWARDS)))
        data["reward_params"] = {draw(st.sampled_from(REWARD_KEYS)): draw(values)}
    return cls, data


@settings(
    max_examples=600,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(bad_inputs())
def test_any_value_anywhere_is_accepted_or_refused_in_one_line(case):
    cls, data = case
    try:
        door(cls, data)
    except PriorlabError as e:
        assert str(e) and "\n" not in str(e)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "seed": st.integers(0, 2**32 - 1),
            "lr": st.floats(1e-7, 1.0),
            "rollout_budget": st.integers(256, 10**6),
            "group_size": st.integers(2, 64),
            "prompts_per_step": st.integers(4, 32),
            "temperature": st.floats(0.05, 2.0),
            "rounds": st.integers(1, 16),
            "algo": st.sampled_from(["grpo", "ppo", "dapo", "ei", "rcrl", "sft"]),
        },
    )
)
def test_a_valid_random_train_config_is_accepted_and_reads_back_the_same(data):
    data = {**data, "rollout_budget": max(data.get("rollout_budget", 4096), 32 * 64)}
    cfg = build(TrainConfig, data)
    validate_run(cfg, on_disk=False)
    written = json.loads(json.dumps(asdict(cfg)))  # as config.json holds it
    assert build(TrainConfig, written) == cfg
