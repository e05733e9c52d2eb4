"""Properties every synthetic task (`SYNTHETIC`) must have."""

import hashlib
import random
import string

import pytest

from priorlab.tasks import SYNTHETIC, Verdict, make_task, split_of
from priorlab.tasks.base import SPLITS, Problem, TooFewProblems, draw_problems

PRINTABLE = set(string.printable) - set("\t\n\r\x0b\x0c")


@pytest.fixture(params=SYNTHETIC)
def task(request):
    return make_task(request.param)


def test_splits_are_disjoint_deterministic_and_seeded(task):
    train = task.problems("train", 400, seed=0)
    dev = task.problems("dev", 200, seed=0)
    test = task.problems("test", 200, seed=0)
    assert len(train) == 400 and len(dev) == len(test) == 200
    for split, problems in zip(SPLITS, (train, dev, test)):
        assert all(split_of(p.prompt, task.test_percent) == split for p in problems)
    for a, b in ((train, dev), (train, test), (dev, test)):
        assert not {p.prompt for p in a} & {p.prompt for p in b}
        assert not {p.id for p in a} & {p.id for p in b}
    assert len({p.prompt for p in train}) == len({p.id for p in train}) == 400
    assert task.problems("dev", 200, seed=0) == dev
    assert task.problems("dev", 50, seed=1) != dev[:50]
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
        assert task.whole_solution(p, p.solution) in (True, None)  # None: the task cannot tell
        assert task.whole_solution(p, wrong) in (False, None)


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
        ({"split": "val"}, "split: 'val' is invalid; accepted: train, dev, test"),
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
    share = {s: sum(split_of(p, 20) == s for p in prompts) / len(prompts) for s in SPLITS}
    assert 0.75 < share["train"] < 0.85  # test_percent 20 held out...
    assert 0.07 < share["dev"] < 0.13 and 0.07 < share["test"] < 0.13  # ...half each
    assert all(split_of(p, 0) == "train" for p in prompts[:50])
    assert split_of("3+4*2-5=", 20) == split_of("3+4*2-5=", 20)


@pytest.mark.parametrize(
    "prompt,bucket,parity,split",
    [
        ("3+4*2-5=", 86, 1, "train"),
        ("2+2=", 0, 1, "dev"),
        ("1+1=", 10, 1, "dev"),
        ("3+4=", 12, 1, "dev"),
        ("0+0=", 11, 0, "test"),
        ("1+3=", 1, 0, "test"),
        ("2+5=", 30, 1, "train"),
        ("9-3=", 31, 0, "train"),
    ],
)
def test_split_of_by_hand(prompt, bucket, parity, split):
    h = int(hashlib.sha1(prompt.encode()).hexdigest(), 16)
    assert (h % 100, h // 100 % 2) == (bucket, parity)
    assert split_of(prompt, 20) == split
    # train is what the two-way rule (held out when h mod 100 < test_percent) gave
    assert (split_of(prompt, 20) == "train") == (bucket >= 20)


PINNED_TRAIN = {  # the first train problems of seed 0 before dev existed
    "arith": ["6-5-1*1=", "7+8-5+4=", "8+9-9*2=", "4*7*7-0=", "1-6+3*9="],
    "countdown": ["7,6,2>84:", "4,6,4>28:", "5,6,2>17:", "9,2,5>16:", "2,6,2>5:"],
}


def test_the_train_split_is_unchanged_by_dev(task):
    assert [p.prompt for p in task.problems("train", 5, seed=0)] == PINNED_TRAIN[task.name]


def test_unknown_task_and_knob_list_the_valid_ones():
    with pytest.raises(ValueError, match="unknown task 'sudoku'; valid: arith, countdown"):
        make_task("sudoku")
    with pytest.raises(ValueError, match="task_params: arith has no knob 'depth'; valid: steps"):
        make_task("arith", depth=3)


def test_an_exhausted_split_fails_after_a_stall_not_after_20_draws_per_asked_problem():
    """Three distinct prompts, ten million asked for: 200 million draws would take hours;
    the stall rule stops after 100,000 + 20 * 3 draws in a row that add nothing."""
    calls = []

    def draw(rng):
        calls.append(1)
        k = rng.randrange(3)
        return Problem(f"t-{k}", f"{k}+0=", str(k), f"{k}+0={k}#{k}", ("+",))

    with pytest.raises(TooFewProblems, match="found only 3 distinct") as e:
        draw_problems(draw, "train", 10**7, seed=0, test_percent=0)
    assert len(e.value.found) == 3
    assert 100_060 <= len(calls) < 100_060 + 100  # the last new prompt came within ~10 draws
