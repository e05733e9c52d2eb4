import hashlib
import random

import pytest

from priorlab.tasks import Arith, Verdict, make_task
from priorlab.tasks.arith import canonical_int, make_problem, parse_prompt

GOLD = "3+4=7,7*2=14,14-5=9#9"


def test_format_by_hand():
    p = Arith.solve("3+4*2-5=")  # strictly left to right: ((3+4)*2)-5
    assert p == make_problem([3, 4, 2, 5], ["+", "*", "-"])
    assert (p.prompt, p.solution, p.answer, p.skills) == ("3+4*2-5=", GOLD, "9", ("*", "+", "-"))
    assert p.id == "arith-b62a57f61c72"  # sha1 of the prompt: stable across runs
    assert parse_prompt(p.prompt) == ([3, 4, 2, 5], ["+", "*", "-"])
    assert Arith.solve("2-7=").solution == "2-7=-5#-5"


@pytest.mark.parametrize("prompt", ["", "3+4", "3/4=", "-3+4=", "3+=", "3=", "3+4*2-5= "])
def test_solve_rejects_non_prompts(prompt):
    with pytest.raises(ValueError, match="not a prompt like"):
        Arith.solve(prompt)


@pytest.mark.parametrize(
    "completion,correct,answer",
    [
        (GOLD, True, "9"),
        ("#9", True, "9"),
        ("#09", True, "09"),
        ("3+4=8#9 then more", True, "9"),  # only the final answer counts
        ("#9#10", False, "10"),  # the last '#' wins
        ("3+4=7#10", False, "10"),
        ("#-9", False, "-9"),
        ("#" + "9" * 5000, False, "9" * 5000),  # no int() on huge strings
    ],
    ids=lambda v: repr(v)[:20],
)
def test_verify_reads_the_integer_after_the_last_hash(completion, correct, answer):
    p = Arith.solve("3+4*2-5=")
    assert make_task("arith").verify(p, completion) == Verdict(correct, answer, True)


@pytest.mark.parametrize("junk", ["", "9", "#", "#abc", "#9.5", "#--9", "#+9", "# ", "#\u0669"])
def test_verify_unparsed(junk):
    assert make_task("arith").verify(Arith.solve("3+4*2-5="), junk) == Verdict(False, None, False)


def test_canonical_int():
    assert [canonical_int(s) for s in ("9", "009", "-07", "-0", "0")] == ["9", "9", "-7", "0", "0"]


def test_steps_are_the_intermediate_results():
    task = make_task("arith")
    assert task.steps(GOLD) == ["7", "14", "9"]
    assert task.steps("3+4=7,7*2=1") == ["7", "1"]  # a truncated completion
    assert task.steps("#9") == [] and task.steps("") == []


def test_a_whole_solution_is_every_step_right_not_a_guessed_answer():
    task, p = make_task("arith"), Arith.solve("3+4*2-5=")
    assert task.whole_solution(p, GOLD) and task.whole_solution(p, GOLD + " ")
    assert task.verify(p, "3+4=8,8*2=14,14-5=9#9").correct  # the answer alone is right...
    assert not task.whole_solution(p, "3+4=8,8*2=14,14-5=9#9")  # ...a step is not
    assert not task.whole_solution(p, "#9")  # a bare guess
    assert not task.whole_solution(p, "3+4=7,7*2=14,14-5=8#8")


def test_wrong_solution_is_consistent_after_the_error():
    p = Arith.solve("3+4*2-5=")
    task = make_task("arith")
    for seed in range(30):
        wrong = task.wrong_solution(p, random.Random(seed))
        steps = wrong.split("#")[0].split(",")
        errors = 0
        for prev, step in zip([None, *steps], steps):
            lhs, result = step.split("=")
            a, op, b = parse_left(lhs)
            errors += eval_step(a, op, b) != int(result)
            if prev is not None:
                assert a == int(prev.split("=")[1])  # continues from the written value
        assert errors == 1 and wrong.split("#")[1] == steps[-1].split("=")[1] != "9"


def test_an_error_cancelled_by_times_zero_moves_to_the_last_step():
    p = Arith.solve("3+4*0=")  # an error in step 1 would be wiped out by the "*0"
    task = make_task("arith")
    for seed in range(30):
        wrong = task.wrong_solution(p, random.Random(seed))
        assert wrong.startswith("3+4=7,7*0=") and not task.verify(p, wrong).correct


def parse_left(lhs):
    """ "-5+3" -> (-5, "+", 3)."""
    i = next(k for k in range(1, len(lhs)) if lhs[k] in "+-*")
    return int(lhs[:i]), lhs[i], int(lhs[i + 1 :])


def eval_step(a, op, b):
    return a + b if op == "+" else a - b if op == "-" else a * b


def test_knobs_shape_the_problems():
    task = make_task("arith", steps=2, operand_max=5, ops="+", value_max=8)
    for p in task.problems("train", 30, seed=0):
        operands, ops = parse_prompt(p.prompt)
        assert len(ops) == 2 and ops == ["+", "+"] and max(operands) <= 5
        assert all(abs(int(v)) <= 8 for v in task.steps(p.solution))


@pytest.mark.parametrize(
    "knobs,name",
    [
        ({"steps": 0}, "steps"),
        ({"steps": True}, "steps"),
        ({"operand_max": 0}, "operand_max"),
        ({"ops": ["/"]}, "ops"),
        ({"ops": []}, "ops"),
        ({"ops": 3}, "ops"),
        ({"value_max": 0}, "value_max"),
        ({"test_percent": 100}, "test_percent"),
    ],
)
def test_invalid_knobs_name_the_knob(knobs, name):
    with pytest.raises(ValueError, match=f"^{name}: .* accepted: "):
        make_task("arith", **knobs)


def test_exhausted_space_is_an_error_not_a_hang():
    task = make_task("arith", steps=1, operand_max=2, ops=["+"])
    with pytest.raises(ValueError, match="found only .* of the 50 asked for .* loosen steps"):
        task.problems("train", 50, seed=0)
    with pytest.raises(ValueError, match="require_skills: '\\*' not among"):
        task.problems("test", 5, seed=0, require_skills=["*"])


def hand_split(prompt, test_percent):
    """The three-way rule written out again: held out by h mod 100, then test or dev."""
    h = int(hashlib.sha1(prompt.encode()).hexdigest(), 16)
    if h % 100 >= test_percent:
        return "train"
    return "test" if (h // 100) % 2 == 0 else "dev"


@pytest.mark.parametrize("split,count", [("train", 68), ("dev", 16), ("test", 16)])
def test_a_small_prompt_space_splits_as_counted_by_hand(split, count):
    task = make_task("arith", steps=1, operand_max=9, ops=["+"])  # 100 prompts "a+b="
    prompts = {f"{a}+{b}=" for a in range(10) for b in range(10)}
    assert sum(hand_split(p, 20) == split for p in prompts) == count
    problems = task.problems(split, count, seed=0)
    assert {p.prompt for p in problems} == {p for p in prompts if hand_split(p, 20) == split}
    with pytest.raises(ValueError, match=f"found only {count} distinct {split} problems"):
        task.problems(split, count + 1, seed=0)
