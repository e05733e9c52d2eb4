"""GSM8K from the local copy in ../shared/data/gsm8k, and from malformed temp files."""

import hashlib
import json
import random
from pathlib import Path

import pytest

from priorlab.errors import ConfigError, DataError
from priorlab.tasks import GSM8K, make_task
from priorlab.tasks.gsm8k import make_problem

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"  # ../shared beside the repo
GSM8K_DIR = DATA / "gsm8k"
ROW = {"question": "Ann has 2 bags of 3 apples. How many?", "answer": "2*3=<<2*3=6>>6\n#### 6"}


@pytest.fixture(scope="module")
def task():
    return make_task("gsm8k", path=str(GSM8K_DIR))


def write_jsonl(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_real_files_load_with_the_official_counts(task):
    train, dev, test = task.pool("train"), task.pool("dev"), task.pool("test")
    assert len(train) + len(dev) == 7473  # dev is carved out of the official train split
    assert (len(train), len(dev), len(test)) == (6745, 728, 1319)
    for a, b in ((train, dev), (train, test), (dev, test)):
        assert not {p.id for p in a} & {p.id for p in b}
        assert not {p.prompt for p in a} & {p.prompt for p in b}


def test_dev_is_a_hash_of_the_id(task):
    in_dev = lambda p: int(hashlib.sha1(f"dev:{p.id}".encode()).hexdigest(), 16) % 10 == 0
    assert all(in_dev(p) for p in task.pool("dev"))
    assert not any(in_dev(p) for p in task.pool("train"))  # test is left whole
    a = task.problems("dev", 100, seed=0)
    assert a == task.problems("dev", 100, seed=0) != task.problems("dev", 100, seed=1)
    with pytest.raises(ValueError, match="only 728 dev problems; asked 729"):
        task.problems("dev", 729, seed=0)


def test_first_test_problem(task):
    p = task.pool("test")[0]
    assert p.answer == "18"
    assert p.prompt.startswith("Question: Janet’s ducks lay 16 eggs per day.")
    assert p.prompt.endswith("farmers' market?\nAnswer:")
    assert p.solution == (
        " Janet sells 16 - 3 - 4 = 9 duck eggs a day.\n"
        "She makes 9 * 2 = $18 every day at the farmer’s market.\n#### 18"
    )
    assert p.id.startswith("gsm8k-") and len(p.id) == len("gsm8k-") + 12
    assert p.skills == ("*", "-")
    assert task.steps(p.solution) == ["9", "18"]


def test_gold_answers_are_canonical_and_annotations_stripped(task):
    for p in task.pool("train") + task.pool("dev") + task.pool("test"):
        assert "<<" not in p.solution and ">>" not in p.solution
        assert p.solution.endswith(f"\n#### {p.answer}")
        assert "," not in p.answer


def test_gold_verifies_and_wrong_solutions_do_not(task):
    rng = random.Random(0)
    for p in task.problems("train", 500, seed=0) + task.problems("test", 200, seed=0):
        assert task.verify(p, p.solution).correct
        assert task.whole_solution(p, p.solution) is None  # many right reasonings: not judged
        wrong = task.wrong_solution(p, rng)
        verdict = task.verify(p, wrong)
        assert verdict.parsed and not verdict.correct, wrong
        assert len(task.steps(wrong)) == len(task.steps(p.solution))


def test_verify_reads_model_style_answers(task):
    p = task.pool("test")[0]
    assert task.verify(p, " She makes $18.00 a day.\n#### $18").correct
    assert task.verify(p, " The answer is 18 dollars.").correct
    assert not task.verify(p, " 18 ... #### 20").correct
    verdict = task.verify(p, " I don't know")
    assert verdict.answer is None and not verdict.parsed and not verdict.correct


def test_sampling_is_seeded_distinct_and_prefix_stable(task):
    a = task.problems("train", 100, seed=0)
    assert a == task.problems("train", 100, seed=0)
    assert a[:10] == task.problems("train", 10, seed=0)
    assert a != task.problems("train", 100, seed=1)
    assert len({p.id for p in a}) == 100
    assert len(task.problems("test", 1319, seed=3)) == 1319
    with pytest.raises(ValueError, match="only 1319 test problems; asked 1320"):
        task.problems("test", 1320, seed=0)
    with pytest.raises(ValueError, match="split: 'val' is invalid"):
        task.problems("val", 1, seed=0)


def test_skills_filter(task):
    no_mul = task.problems("train", 50, seed=0, exclude_skills=["*"])
    assert all("*" not in p.skills for p in no_mul)
    with_div = task.problems("test", 50, seed=0, require_skills=["/"])
    assert all("/" in p.skills for p in with_div)
    with pytest.raises(ValueError, match="exclude_skills: '\\^'"):
        task.problems("train", 1, seed=0, exclude_skills=["^"])


def test_template_gives_the_raw_question():
    p = make_problem(ROW["question"], ROW["answer"], where="x:1", template="{question}")
    assert p.prompt == ROW["question"]
    assert p.solution == " 2*3=6\n#### 6"
    with pytest.raises(ValueError, match="template"):
        GSM8K(str(GSM8K_DIR), template="no placeholder")


@pytest.mark.parametrize(
    "line,message",
    [
        ("{not json", "bad JSON"),
        ('["a list"]', "expected a JSON object"),
        (json.dumps({"question": "q?"}), "missing field 'answer'"),
        (json.dumps({"question": 3, "answer": "#### 3"}), "field 'question' is int"),
        (json.dumps({"question": "q?", "answer": "it is 3"}), "no '#### <number>'"),
        (json.dumps({"question": "q?", "answer": "so\n#### three"}), "gold answer 'three'"),
        (json.dumps({"question": "q?", "answer": "so\n####"}), "gold answer ''"),
    ],
)
def test_malformed_lines_name_file_and_line(tmp_path, line, message):
    write_jsonl(tmp_path / "train.jsonl", [ROW, "", line])
    write_jsonl(tmp_path / "test.jsonl", [ROW])
    task = GSM8K(str(tmp_path))
    assert len(task.pool("test")) == 1
    with pytest.raises(DataError, match=f"train.jsonl:3: .*{message}"):
        task.pool("train")


def test_empty_file_is_an_error(tmp_path):
    (tmp_path / "test.jsonl").write_text("\n")
    with pytest.raises(DataError, match="test.jsonl: no problems"):
        GSM8K(str(tmp_path)).pool("test")


def test_missing_paths_say_what_is_expected(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="task_params.path: .*nope does not exist.*train.jsonl"):
        GSM8K(str(tmp_path / "nope"))
    with pytest.raises(ConfigError, match="has no data files"):
        GSM8K(str(tmp_path))
    write_jsonl(tmp_path / "test.jsonl", [ROW])
    with pytest.raises(ConfigError, match="no train split"):
        GSM8K(str(tmp_path)).pool("train")
    with pytest.raises(ConfigError, match="no train split .*dev is carved out of train"):
        GSM8K(str(tmp_path)).pool("dev")
    monkeypatch.delenv("PRIORLAB_DATA", raising=False)
    with pytest.raises(ConfigError, match="PRIORLAB_DATA is unset"):
        make_task("gsm8k")
    monkeypatch.setenv("PRIORLAB_DATA", str(GSM8K_DIR.parent))
    assert len(make_task("gsm8k").pool("test")) == 1319


def test_a_single_file_is_one_split(tmp_path):
    task = GSM8K(str(write_jsonl(tmp_path / "mine.jsonl", [ROW])))
    assert [p.answer for p in task.pool("test")] == ["6"]
    with pytest.raises(ConfigError, match="a single file holds one split"):
        task.pool("train")
    task = GSM8K(str(write_jsonl(tmp_path / "train_small.jsonl", [ROW])))
    assert len(task.pool("train")) == 1


def test_parquet_in_the_hugging_face_layout(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    pq.write_table(pa.Table.from_pylist([ROW, ROW | {"question": "b?"}]), tmp_path / "a.parquet")
    (tmp_path / "a.parquet").rename(tmp_path / "train-00000-of-00001.parquet")
    bad = {"question": "q?", "answer": "no marker"}
    pq.write_table(pa.Table.from_pylist([ROW, bad]), tmp_path / "test.parquet")
    task = GSM8K(str(tmp_path))
    assert [p.answer for p in task.pool("train")] == ["6", "6"]
    with pytest.raises(DataError, match="test.parquet:2: answer has no"):
        task.pool("test")
