import random
from fractions import Fraction

import pytest

from priorlab.tasks import make_task
from priorlab.tasks.base import Problem
from priorlab.tasks.expr import ExprError, parse_expression

P = Problem("cd-1", "3,5,7>22:", "22", "3*5=15,15+7=22#(3*5)+7", ("*", "+"))


def test_gold_and_alternative_solutions_verify():
    task = make_task("countdown")
    assert task.verify(P, P.solution).correct
    assert task.verify(P, "#7+5*3").correct  # any correct expression counts


@pytest.mark.parametrize("completion", ["#3*5+7+3", "#(3*5)+5", "#3*5+8", "#22", "#5*3+7-0"])
def test_number_rules_and_value(completion):
    v = make_task("countdown").verify(P, completion)
    assert v.parsed and not v.correct


def test_use_all_false_allows_a_subset():
    task = make_task("countdown", use_all=False)
    q = Problem("cd-2", "3,5,7>15:", "15", "", ())
    assert task.verify(q, "#3*5").correct and not task.verify(q, "#3*5*1").correct


@pytest.mark.parametrize(
    "junk", ["", "#", "#2+", "#(2", "#2 3", "#__import__('os')", "#1/0", "#" + "1+" * 300 + "1"]
)
def test_malformed_answers_are_unparsed(junk):
    v = make_task("countdown").verify(P, junk)
    assert not v.parsed and not v.correct


def test_parser_by_hand():
    assert parse_expression("2+3*4") == (Fraction(14), [2, 3, 4])
    assert parse_expression("(2+3)*4")[0] == 20
    assert parse_expression("7/2")[0] == Fraction(7, 2)
    assert parse_expression(" 8 - 2 - 1 ")[0] == 5  # left associative
    for bad in (
        "1/0",
        "2+",
        "(2",
        "2 3",
        "eval(1)",
        "((((((((((((((((((((((1))))))))))))))))))))))",
    ):
        with pytest.raises(ExprError):
            parse_expression(bad)


def test_generated_problems_are_solvable_and_split():
    task = make_task("countdown")
    rng = random.Random(0)
    train = task.problems("train", 200, seed=0)
    test = task.problems("test", 100, seed=0)
    assert not {p.prompt for p in train} & {p.prompt for p in test}
    for p in train[:100]:
        assert task.verify(p, p.solution).correct
        assert not task.verify(p, task.wrong_solution(p, rng)).correct


def test_invalid_knob():
    with pytest.raises(ValueError, match="n_numbers"):
        make_task("countdown", n_numbers=9)
