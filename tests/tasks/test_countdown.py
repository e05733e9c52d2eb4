import random

import pytest

from priorlab.tasks import Problem, Verdict, make_task
from priorlab.tasks.countdown import make_problem, parse_prompt, render_expression, solution_text

P = make_problem([3, 5, 7], ((5, "*", 3), "+", 7))


def test_format_by_hand():
    assert (P.prompt, P.answer, P.skills) == ("3,5,7>22:", "22", ("*", "+"))
    assert P.solution == "5*3=15,15+7=22#(5*3)+7"
    assert P.id.startswith("countdown-") and parse_prompt(P.prompt) == ([3, 5, 7], 22)
    tree = ((8, "/", 2), "-", (1, "+", 6))
    assert render_expression(tree) == "(8/2)-(1+6)"
    assert solution_text(tree) == ("8/2=4,1+6=7,4-7=-3#(8/2)-(1+6)", -3)


@pytest.mark.parametrize("completion", [P.solution, "#7+5*3", "#(3*5)+7", "# 7 + 3 * 5 "])
def test_any_correct_expression_verifies(completion):
    verdict = make_task("countdown").verify(P, completion)
    assert verdict == Verdict(True, completion.split("#")[1].strip(), True)


@pytest.mark.parametrize(
    "completion",
    [
        "#3*5+7+3",  # 3 used twice
        "#(3*5)+5+2",  # 5 twice, 7 missing
        "#3*5+8-1",  # unlisted numbers
        "#22",  # the target itself
        "#5*3+7-0",  # an extra 0
        "#5*3",  # 7 unused, with use_all
        "#(7+5)*3",  # right numbers, wrong value
        "#7/(5*3)+3",  # a fraction
    ],
)
def test_rule_breaking_or_wrong_value_is_incorrect_but_parsed(completion):
    verdict = make_task("countdown").verify(P, completion)
    assert verdict.parsed and not verdict.correct and verdict.answer is not None


def test_use_all_false_allows_a_sub_multiset():
    task = make_task("countdown", use_all=False)
    q = make_problem([3, 5, 7], (3, "*", 5))
    assert q.prompt == "3,5,7>15:"
    assert task.verify(q, "#3*5").correct and task.verify(q, "#7+5+3").correct
    for bad in ("#3*5*1", "#3*5+5-5", "#(7-5+3)*3"):  # an unlisted 1; 5 twice; 3 twice
        assert not task.verify(q, bad).correct


@pytest.mark.parametrize(
    "junk",
    ["", "#", "22", "#2+", "#(2", "#2 3", "#__import__('os')", "#1/0", "#" + "1+" * 300 + "1"],
    ids=lambda v: repr(v)[:20],
)
def test_malformed_answers_are_unparsed(junk):
    assert make_task("countdown").verify(P, junk) == Verdict(False, None, False)


def test_wrong_solution_swaps_an_operator():
    task = make_task("countdown")
    for seed in range(20):
        wrong = task.wrong_solution(P, random.Random(seed))
        assert not task.verify(P, wrong).correct
        expression = wrong.split("#")[1]
        assert sorted(expression.replace("(", "").replace(")", "")[::2]) == ["3", "5", "7"]


def test_wrong_solution_without_a_gold_expression_falls_back_to_a_chain():
    task = make_task("countdown")
    sum_target = Problem("cd-1", "2,2>4:", "4", "", ("+",))
    assert task.wrong_solution(sum_target, random.Random(0)) == "2-2=0#2-2"
    other = Problem("cd-2", "3,5>15:", "15", "garbage", ("*",))
    assert task.wrong_solution(other, random.Random(0)) == "3+5=8#3+5"


def test_generated_problems_use_all_numbers_and_hit_the_target():
    task = make_task("countdown", n_numbers=5, number_max=20)
    for p in task.problems("train", 100, seed=0):
        numbers, target = parse_prompt(p.prompt)
        assert len(numbers) == 5 and max(numbers) <= 20 and 0 < target <= 999
        assert task.steps(p.solution)[-1] == p.answer and len(task.steps(p.solution)) == 4


def test_division_is_exact_in_every_step():
    task = make_task("countdown", n_numbers=4)
    divided = task.problems("train", 50, seed=0, require_skills=["/"])
    for p in divided:
        assert "/" in p.solution.split("#")[1]
        assert all(s.lstrip("-").isdigit() for s in task.steps(p.solution))


@pytest.mark.parametrize(
    "knobs,name",
    [
        ({"n_numbers": 1}, "n_numbers"),
        ({"n_numbers": 7}, "n_numbers"),
        ({"number_max": 0}, "number_max"),
        ({"use_all": "yes"}, "use_all"),
        ({"test_percent": 0}, "test_percent"),
    ],
)
def test_invalid_knobs_name_the_knob(knobs, name):
    with pytest.raises(ValueError, match=f"^{name}: .* accepted: "):
        make_task("countdown", **knobs)


def test_exhausted_space_is_an_error():
    with pytest.raises(ValueError, match="countdown: found only .* loosen n_numbers"):
        make_task("countdown", n_numbers=2, number_max=2).problems("train", 30, seed=0)
