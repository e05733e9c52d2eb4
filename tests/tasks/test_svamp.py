"""SVAMP from the local copy in ../shared/data/svamp, its hash split, and malformed files."""

import hashlib
import json
import random
from pathlib import Path

import pytest

from priorlab.errors import ConfigError, DataError
from priorlab.tasks import SVAMP, make_task
from priorlab.tasks.base import held_out

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"  # ../shared beside the repo
SVAMP_DIR = DATA / "svamp"
ROW = {
    "ID": "x-1",
    "Body": "Dan had $ 3 left. He had $ 4 at the start",
    "Question": "How much did the candy bar cost?",
    "Equation": "( 4.0 - 3.0 )",
    "Answer": 1.0,
    "Type": "Subtraction",
}


@pytest.fixture(scope="module")
def task():
    return make_task("svamp", path=str(SVAMP_DIR))


def test_splits_are_disjoint_complete_and_hash_based(task):
    train, dev, test = task.pool("train"), task.pool("dev"), task.pool("test")
    assert (len(train) + len(dev), len(test)) == (721, 279)  # the 30% hash split, as before
    assert (len(train), len(dev)) == (660, 61)
    for a, b in ((train, dev), (train, test), (dev, test)):
        assert not {p.id for p in a} & {p.id for p in b}
        assert not {p.prompt for p in a} & {p.prompt for p in b}
    question = lambda p: p.prompt.removeprefix("Question: ").removesuffix("\nAnswer:")
    assert all(held_out(question(p), 30) for p in test)
    assert not any(held_out(question(p), 30) for p in train + dev)
    in_dev = lambda p: int(hashlib.sha1(f"dev:{p.id}".encode()).hexdigest(), 16) % 10 == 0
    assert all(in_dev(p) for p in dev) and not any(in_dev(p) for p in train)
    assert len(SVAMP(str(SVAMP_DIR), test_percent=50).pool("test")) != 279


def test_first_problem(task):
    p = task.pool("test")[0]
    assert p.prompt == (
        "Question: Each pack of dvds costs 76 dollars. If there is a discount of 25 dollars "
        "on each pack How much do you have to pay to buy each pack?\nAnswer:"
    )
    assert (p.answer, p.solution, p.skills) == ("51", " ( 76 - 25 ) = 51 #### 51", ("-",))
    assert task.steps(p.solution) == ["51"]


def test_gold_verifies_and_wrong_solutions_do_not(task):
    rng = random.Random(0)
    for p in task.pool("train") + task.pool("dev") + task.pool("test"):
        assert task.verify(p, p.solution).correct
        wrong = task.wrong_solution(p, rng)
        verdict = task.verify(p, wrong)
        assert verdict.parsed and not verdict.correct, wrong
        assert task.steps(wrong) == [verdict.answer]


def test_sampling_is_seeded(task):
    a = task.problems("test", 50, seed=0)
    assert a == task.problems("test", 50, seed=0) != task.problems("test", 50, seed=1)
    assert a[:5] == task.problems("test", 5, seed=0)
    with pytest.raises(ValueError, match="only 279 test problems; asked 280"):
        task.problems("test", 280, seed=0)
    dev = task.problems("dev", 61, seed=0)
    assert dev == task.problems("dev", 61, seed=0) != task.problems("dev", 61, seed=1)
    with pytest.raises(ValueError, match="only 61 dev problems; asked 62"):
        task.problems("dev", 62, seed=0)


def test_a_file_or_its_directory(tmp_path):
    (tmp_path / "SVAMP.json").write_text(json.dumps([ROW] * 2 + [ROW | {"Body": "Other"}]))
    by_dir, by_file = SVAMP(str(tmp_path)), SVAMP(str(tmp_path / "SVAMP.json"))
    both = by_dir.pool("train") + by_dir.pool("dev") + by_dir.pool("test")
    assert len(both) == 2  # the repeated question is kept once
    assert by_file.pool("train") + by_file.pool("dev") + by_file.pool("test") == both
    assert both[0].answer == "1"


@pytest.mark.parametrize(
    "content,message",
    [
        ("[{", "SVAMP.json:1: bad JSON"),
        ("{}", "expected a non-empty JSON list"),
        ("[]", "expected a non-empty JSON list"),
        (json.dumps([ROW, 3]), "entry 1: expected a JSON object"),
        (json.dumps([ROW, {"ID": "b"}]), "entry 1 \\(ID b\\): missing field 'Body'"),
        (json.dumps([ROW | {"Answer": "1"}]), "entry 0 \\(ID x-1\\): field 'Answer' is str"),
        (json.dumps([ROW | {"Answer": float("nan")}]), "gold answer 'nan'"),
        (json.dumps([ROW | {"Equation": "( a - b )"}]), "Equation '\\( a - b \\)' has no number"),
    ],
)
def test_malformed_entries_name_file_and_entry(tmp_path, content, message):
    (tmp_path / "SVAMP.json").write_text(content)
    with pytest.raises(DataError, match=message):
        SVAMP(str(tmp_path)).pool("test")


def test_missing_paths_and_bad_knobs(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="task_params.path: .*nope does not exist"):
        SVAMP(str(tmp_path / "nope"))
    with pytest.raises(ConfigError, match="SVAMP.json does not exist"):
        SVAMP(str(tmp_path))
    with pytest.raises(ValueError, match="test_percent: 0"):
        SVAMP(str(SVAMP_DIR), test_percent=0)
    monkeypatch.delenv("PRIORLAB_DATA", raising=False)
    with pytest.raises(ConfigError, match="PRIORLAB_DATA is unset"):
        make_task("svamp")
    monkeypatch.setenv("PRIORLAB_DATA", str(DATA))
    assert len(make_task("svamp").pool("train")) == 660
