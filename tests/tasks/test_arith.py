import random

import pytest

from priorlab.tasks import make_task
from priorlab.tasks.arith import make_problem, parse_prompt


def test_format_by_hand():
    p = make_problem([3, 4, 2, 5], ["+", "*", "-"])
    assert p.prompt == "3+4*2-5="
    assert p.solution == "3+4=7,7*2=14,14-5=9#9"
    assert p.answer == "9" and p.skills == ("*", "+", "-")
    assert parse_prompt(p.prompt) == ([3, 4, 2, 5], ["+", "*", "-"])


def test_verifier():
    task = make_task("arith")
    p = make_problem([3, 4, 2, 5], ["+", "*", "-"])
    assert task.verify(p, p.solution).correct
    assert task.verify(p, "#9").correct
    assert not task.verify(p, "3+4=7#10").correct and task.verify(p, "#10").parsed
    for junk in ("", "9", "#", "#abc", "#9.5", "#--9"):
        v = task.verify(p, junk)
        assert not v.correct and not v.parsed, junk
    assert task.intermediate(p.solution) == ["7", "14", "9"]


def test_wrong_solutions_are_wrong_but_well_formed():
    task = make_task("arith")
    rng = random.Random(0)
    for p in task.problems("train", 200, seed=0):
        wrong = task.wrong_solution(p, rng)
        v = task.verify(p, wrong)
        assert v.parsed and not v.correct
        assert len(task.intermediate(wrong)) == len(task.intermediate(p.solution))


def test_splits_are_disjoint_and_seeded():
    task = make_task("arith")
    train = task.problems("train", 600, seed=0)
    test = task.problems("test", 300, seed=0)
    assert not {p.prompt for p in train} & {p.prompt for p in test}
    assert len({p.id for p in train}) == 600
    assert task.problems("train", 50, seed=0) == train[:50]
    assert task.problems("train", 50, seed=1) != train[:50]


def test_withheld_skill():
    task = make_task("arith")
    corpus = task.problems("train", 300, seed=0, exclude_skills=["*"])
    assert all("*" not in p.prompt for p in corpus)
    test = task.problems("test", 100, seed=0, require_skills=["*"])
    assert all("*" in p.skills for p in test)


@pytest.mark.parametrize(
    "knobs,name",
    [({"steps": 0}, "steps"), ({"ops": ["/"]}, "ops"), ({"operand_max": 0}, "operand_max")],
)
def test_invalid_knobs_name_the_knob(knobs, name):
    with pytest.raises(ValueError, match=name):
        make_task("arith", **knobs)


def test_exhausted_space_is_an_error_not_a_hang():
    task = make_task("arith", steps=1, operand_max=2, ops=["+"])
    with pytest.raises(ValueError, match="found only"):
        task.problems("train", 50, seed=0)


def test_unknown_task_lists_valid_names():
    with pytest.raises(ValueError, match="valid: arith, countdown"):
        make_task("sudoku")
    with pytest.raises(ValueError, match="task_params"):
        make_task("arith", depth=3)
