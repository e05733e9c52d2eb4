"""Properties every synthetic task (`SYNTHETIC`) must have."""

import random
import string

import pytest

from priorlab.tasks import SYNTHETIC, Verdict, make_task, split_of

PRINTABLE = set(string.printable) - set("\t\n\r\x0b\x0c")


@pytest.fixture(params=SYNTHETIC)
def task(request):
    return make_task(request.param)


def test_splits_are_disjoint_deterministic_and_seeded(task):
    train = task.problems("train", 400, seed=0)
    test = task.problems("test", 200, seed=0)
    assert len(train) == 400 and len(test) == 200
    assert not {p.prompt for p in train} & {p.prompt for p in test}
    assert all(split_of(p.prompt, task.test_percent) == "test" for p in test)
    assert len({p.prompt for p in train}) == len({p.id for p in train}) == 400
    assert task.problems("train", 400, seed=0) == train
    assert task.problems("train", 50, seed=0) == train[:50]  # a prefix: draws are in order
    assert task.problems("train", 50, seed=1) != train[:50]


def test_gold_verifies_and_wrong_solutions_do_not(task):
    rng = random.Random(0)
    for p in task.problems("train", 200, seed=3):
        assert p.id.startswith(task.name + "-") and p.skills == tuple(sorted(set(p.skills)))
        assert set(p.prompt + p.solution) <= PRINTABLE
        assert task.verify(p, p.solution).correct
        wrong = task.wrong_solution(p, rng)
        verdict = task.verify(p, wrong)
        assert verdict.parsed and not verdict.correct, (p, wrong)
        assert len(task.steps(wrong)) == len(task.steps(p.solution)) >= 1


@pytest.mark.parametrize("junk", ["", "9", "#", "#abc", "abc#", "3+4=7", "#9#", "#\n"])
def test_garbage_is_unparsed(task, junk):
    p = task.problems("train", 1, seed=0)[0]
    assert task.verify(p, junk) == Verdict(False, None, False)


def test_skills_can_be_withheld_and_required(task):
    corpus = task.problems("train", 200, seed=0, exclude_skills=["*"])
    assert all("*" not in p.skills for p in corpus)
    test = task.problems("test", 100, seed=0, require_skills=["*", "+"])
    assert all({"*", "+"} <= set(p.skills) for p in test)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"split": "val"}, "split: 'val' is invalid; accepted: train, test"),
        ({"n": -1}, "n: -1"),
        ({"exclude_skills": ["x"]}, "exclude_skills: 'x'"),
        ({"require_skills": ["^"]}, "require_skills: '\\^'"),
    ],
)
def test_bad_problem_requests_are_explained(task, kwargs, match):
    args = {"split": "train", "n": 5, "seed": 0, **kwargs}
    with pytest.raises(ValueError, match=match):
        task.problems(args.pop("split"), args.pop("n"), **args)


def test_split_of_is_a_hash_bucket():
    prompts = [f"{i}+{i}=" for i in range(2000)]
    share = sum(split_of(p, 20) == "test" for p in prompts) / len(prompts)
    assert 0.15 < share < 0.25
    assert all(split_of(p, 0) == "train" for p in prompts[:50])
    assert split_of("3+4*2-5=", 20) == split_of("3+4*2-5=", 20)


def test_unknown_task_and_knob_list_the_valid_ones():
    with pytest.raises(ValueError, match="unknown task 'sudoku'; valid: arith, countdown"):
        make_task("sudoku")
    with pytest.raises(ValueError, match="task_params: arith has no knob 'depth'; valid: steps"):
        make_task("arith", depth=3)
