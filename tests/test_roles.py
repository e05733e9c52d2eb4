import random

import pytest

from priorlab.config import PretrainConfig
from priorlab.errors import ConfigError
from priorlab.models import build_policy
from priorlab.priors import pretrain
from priorlab.roles import (
    critic_prompt,
    hint_prompt,
    judge_prompt,
    parse_choice,
    require_role,
    role_examples,
)
from priorlab.tasks import Arith


@pytest.mark.parametrize(
    "text, tie, choice",
    [
        ("1", False, "1"),
        (" 2.", False, "2"),
        ("tie", True, "tie"),
        ("Tie!", True, "tie"),
        ("tie", False, None),
        ("12", False, None),
        ("", False, None),
        ("3", True, None),
    ],
)
def test_parse_choice_reads_the_first_word(text, tie, choice):
    assert parse_choice(text, tie=tie) == choice


def test_built_in_formats_are_one_line_with_bars():
    assert judge_prompt(True, "3+4=", "3+4=7#7", "3+4=8#8") == "J|3+4=|3+4=7#7|3+4=8#8|"
    assert critic_prompt(True, "3+4=", "a", "b") == "C|3+4=|a|b|"
    assert hint_prompt(True, "3+4=", "3+4=7#7") == "H|3+4=7#7|3+4="
    words = judge_prompt(False, "What is 3+4?", "7", "8")
    assert "What is 3+4?" in words and "Response 2:\n8" in words and "1 or 2" in words


def test_role_examples_target_the_gold_answer_or_a_tie():
    task = Arith(steps=2)
    problems = task.problems("train", 50, seed=0)
    examples = role_examples(task, problems, ["judge", "critic", "hint"], 300, random.Random(0))
    by_role = {
        r: [e for e in examples if e[0][0] == r[0].upper()] for r in ("judge", "critic", "hint")
    }
    assert all(len(v) == 100 for v in by_role.values())
    gold = {p.prompt: p.solution for p in problems}
    for prompt, target in by_role["judge"] + by_role["critic"]:
        _, question, first, second, _ = prompt.split("|")
        if target == "tie":
            assert first == second == gold[question]
        else:
            assert (first, second)[int(target) - 1] == gold[question]
            assert (first, second)[2 - int(target)] != gold[question]
    assert {t for _, t in by_role["judge"]} == {"1", "2"}
    assert "tie" in {t for _, t in by_role["critic"]}
    for prompt, target in by_role["hint"]:
        _, hint, question = prompt.split("|")
        assert hint == target == gold[question]


def test_a_prior_with_roles_needs_the_room_and_records_them(tmp_path):
    cfg = PretrainConfig(
        out=str(tmp_path / "p"),
        size="0.1m",
        steps=2,
        corpus_size=50,
        task_params={"steps": 2, "ops": ["+", "-"]},
        roles=["judge"],
        max_len=32,
    )
    with pytest.raises(ConfigError, match="max_len: role examples need"):
        pretrain(cfg, quiet=True)
    cfg.max_len = 96
    policy = pretrain(cfg, quiet=True)
    assert set(policy.meta["role_quality"]) == {"judge"}  # measured on test pairs, kept
    assert 0.0 <= policy.meta["role_quality"]["judge"] <= 1.0
    require_role(policy, "judge", "serl")
    with pytest.raises(ConfigError, match="sdpo needs a prior that learned the hint role"):
        require_role(policy, "hint", "sdpo")
    with pytest.raises(ConfigError, match="roles"):
        pretrain(PretrainConfig(out=str(tmp_path / "q"), roles=["oracle"]), quiet=True)


def test_a_built_in_prior_without_roles_cannot_play_them():
    policy = build_policy("0.1m")
    policy.meta = {}
    with pytest.raises(ConfigError):
        require_role(policy, "judge", "serl")


def test_role_quality_needs_enough_test_problems():
    from priorlab.roles import role_quality

    tiny_task = Arith(steps=1, ops=["+"], operand_max=2)  # a handful of distinct problems
    assert role_quality(build_policy("0.1m"), tiny_task, ["judge"], n=200) == {}
