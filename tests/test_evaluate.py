"""priorlab.metrics and .evaluate: hand-computed pass@k, majority vote and summaries."""

import itertools
import math
import random

import numpy as np
import pandas as pd
import pytest

from priorlab.metrics import (
    ks_for,
    maj_at_k,
    pass_at_k,
    pass_at_k_curve,
    per_problem,
    summarize,
)
from priorlab.samples import load_samples, save_samples

# --- pass@k ---


def test_pass_at_k_hand_value():
    # 1 - C(3, 2) / C(5, 2) = 1 - 3/10
    assert pass_at_k(5, 2, 2) == pytest.approx(0.7, abs=1e-12)


def _brute_pass_at_k(n, c, k):
    flags = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(flags, k))
    return sum(any(s) for s in subsets) / len(subsets)


def test_pass_at_k_matches_enumeration():
    for n in range(1, 8):
        for c in range(n + 1):
            for k in range(1, n + 1):
                assert pass_at_k(n, c, k) == pytest.approx(_brute_pass_at_k(n, c, k), abs=1e-12)


def test_pass_at_k_edges():
    assert pass_at_k(4, 3, 2) == 1.0  # n - c = 1 < k
    assert pass_at_k(8, 8, 1) == 1.0
    assert pass_at_k(8, 0, 4) == 0.0
    assert pass_at_k(1000, 1, 1) == pytest.approx(1e-3, abs=1e-15)


@pytest.mark.parametrize(
    ("n", "c", "k", "name"),
    [(4, 1, 5, "k="), (4, 5, 1, "c="), (4, 1, 0, "k="), (4, -1, 1, "c="), (0, 0, 1, "n=")],
)
def test_pass_at_k_errors_name_the_argument(n, c, k, name):
    with pytest.raises(ValueError, match=name):
        pass_at_k(n, c, k)


def test_ks_and_curve():
    assert ks_for(8) == [1, 2, 4, 8]
    assert ks_for(6) == [1, 2, 4, 6]
    assert ks_for(1) == [1]
    curve = pass_at_k_curve(6, 1)
    assert list(curve) == [1, 2, 4, 6]
    assert curve[1] == pytest.approx(1 / 6)
    assert curve[2] == pytest.approx(1 - math.comb(5, 2) / math.comb(6, 2))
    assert curve[6] == 1.0


# --- maj@k ---


def rng():
    return np.random.default_rng(0)


def test_maj_full_vote():
    assert maj_at_k(["3", "3", "5"], [True, True, False], 3, rng()) == 1.0
    assert maj_at_k(["3", "5", "5"], [True, False, False], 3, rng()) == 0.0


def test_maj_tie_is_expected_random_tie_break():
    assert maj_at_k(["3", "5"], [True, False], 2, rng()) == 0.5
    assert maj_at_k(["3", "5", "7"], [True, False, False], 3, rng()) == pytest.approx(1 / 3)


def test_maj_none_never_votes():
    assert maj_at_k([None, None], [False, False], 2, rng()) == 0.0
    assert maj_at_k([None, None, "3"], [False, False, True], 3, rng()) == 1.0


def test_maj_strips_and_any_correct_sample_marks_the_answer():
    # " 3" and "3" are one answer; one sample marked correct makes it correct.
    assert maj_at_k([" 3", "3\n", "5"], [False, True, False], 3, rng()) == 1.0


def test_maj_small_k_enumerates_exactly():
    # pairs: (3,3) -> 1, (3,5) -> 1/2, (3,5) -> 1/2; mean 2/3
    value = maj_at_k(["3", "3", "5"], [True, True, False], 2, rng())
    assert value == pytest.approx(2 / 3, abs=1e-12)
    # k = 1: accuracy of single samples, None scoring 0
    assert maj_at_k(["3", None, "5", "3"], [True, False, False, True], 1, rng()) == 0.5


def test_maj_sampled_estimate_is_deterministic_and_close():
    r = np.random.default_rng(1)
    answers = [str(a) for a in r.integers(0, 3, size=12)]
    correct = [a == "0" for a in answers]
    assert math.comb(12, 5) > 200
    a = maj_at_k(answers, correct, 5, np.random.default_rng(7))
    b = maj_at_k(answers, correct, 5, np.random.default_rng(7))
    assert a == b
    exact = maj_at_k(answers, correct, 5, rng(), n_subsets=math.comb(12, 5))
    assert a == pytest.approx(exact, abs=0.1)


def test_maj_errors():
    with pytest.raises(ValueError, match="k=3"):
        maj_at_k(["3", "5"], [True, False], 3, rng())
    with pytest.raises(ValueError, match="must match"):
        maj_at_k(["3", "5"], [True], 1, rng())


# --- summarize ---


def _row(problem_id, sample, completion, answer, correct, entropy, length, greedy=False):
    return {
        "problem_id": problem_id,
        "sample": sample,
        "completion": completion,
        "answer": answer,
        "correct": correct,
        "parsed": answer is not None,
        "entropy": entropy,
        "length": length,
        "greedy": greedy,
    }


def hand_table():
    return pd.DataFrame(
        [
            _row("p1", 0, "so 3", "3", True, 0.1, 10),
            _row("p1", 1, "so 3 ", " 3", True, 0.2, 20),
            _row("p1", 2, "so 5", "5", False, 0.3, 30),
            _row("p1", 3, "hmm", None, False, 0.4, 40),
            _row("p2", 0, "a 4", "4", False, 0.5, 50),
            _row("p2", 1, "b 7", "7", True, 0.6, 60),
            _row("p2", 2, "c 4", "4", False, 0.7, 70),
            _row("p2", 3, "d 8", "8", False, 0.8, 80),
            _row("p1", -1, "g 3", "3", True, 9.0, 1000, greedy=True),
            _row("p2", -1, "g 4", "4", False, 9.0, 1000, greedy=True),
        ]
    )


def test_summarize_hand_values():
    m = summarize(hand_table())
    # p1: n=4, c=2; p2: n=4, c=1
    assert m["eval/pass@1"] == pytest.approx((0.5 + 0.25) / 2)
    assert m["eval/pass@2"] == pytest.approx((5 / 6 + 1 / 2) / 2)  # 1 - C(2,2)/6, 1 - C(3,2)/6
    assert m["eval/pass@4"] == 1.0
    assert m["eval/maj@1"] == pytest.approx(0.375)
    # p1 pairs: 1, .5, 1, .5, 1, 0 -> 2/3; p2 pairs: .5, 0, 0, .5, .5, 0 -> 1/4
    assert m["eval/maj@2"] == pytest.approx((2 / 3 + 1 / 4) / 2)
    assert m["eval/maj@4"] == pytest.approx((1.0 + 0.0) / 2)  # "3" wins p1, "4" wins p2
    assert m["eval/maj@1_greedy"] == 0.5
    assert m["eval/accuracy"] == pytest.approx(3 / 8)
    assert m["eval/parsed"] == pytest.approx(7 / 8)
    assert m["eval/entropy"] == pytest.approx(0.45)
    assert m["eval/length"] == pytest.approx(45.0)
    assert m["eval/distinct_correct"] == 1.0  # "so 3" == "so 3 " after strip; "b 7"
    assert m["eval/n_problems"] == 2
    assert m["eval/n_samples"] == 4


def test_per_problem_columns():
    table = per_problem(hand_table())
    assert list(table["problem_id"]) == ["p1", "p2"]
    assert list(table["c"]) == [2, 1]
    assert list(table["greedy_correct"]) == [1.0, 0.0]
    assert {"n", "pass@1", "pass@2", "pass@4", "maj@4", "distinct_correct"} <= set(table.columns)


def test_summarize_without_greedy_column():
    df = hand_table()
    m = summarize(df[~df["greedy"]].drop(columns="greedy"))
    assert "eval/maj@1_greedy" not in m
    assert m["eval/pass@1"] == pytest.approx(0.375)


def test_summarize_unequal_counts_names_the_problem():
    df = hand_table()
    df = pd.concat([df, pd.DataFrame([_row("p3", 0, "x", "1", True, 0.1, 5)])])
    with pytest.raises(ValueError, match="'p3'"):
        summarize(df)


def test_summarize_missing_column():
    with pytest.raises(ValueError, match="entropy"):
        summarize(hand_table().drop(columns="entropy"))


# --- storage ---


def test_save_load_round_trip(tmp_path):
    df = hand_table()
    path = tmp_path / "run" / "samples.parquet"
    save_samples(df, path)
    assert [p.name for p in path.parent.iterdir()] == ["samples.parquet"]  # no temp left
    pd.testing.assert_frame_equal(load_samples(path), df)


def test_rerank_at_k_by_hand_and_by_enumeration():
    from priorlab.metrics import rerank_at_k

    scores, correct = [0.9, 0.1, 0.5], [False, True, True]
    assert rerank_at_k(scores, correct, 1) == pytest.approx(2 / 3)
    assert rerank_at_k(scores, correct, 2) == pytest.approx(1 / 3)  # best of {0,2} is 0
    assert rerank_at_k(scores, correct, 3) == 0.0
    rng = random.Random(0)
    for _ in range(20):
        n = rng.randint(1, 7)
        s = [rng.choice([0.1, 0.5, 0.9]) for _ in range(n)]
        c = [rng.random() < 0.5 for _ in range(n)]
        for k in range(1, n + 1):
            subsets = list(itertools.combinations(range(n), k))
            best = [min(sub, key=lambda i: (-s[i], i)) for sub in subsets]
            brute = sum(c[i] for i in best) / len(subsets)
            assert rerank_at_k(s, c, k) == pytest.approx(brute)


def test_a_failed_evaluation_closes_its_generation_engine(tiny_prior, tmp_path, monkeypatch):
    import importlib
    from types import SimpleNamespace

    from priorlab.config import EvalConfig
    from priorlab.evaluate import evaluate_policy

    closed = []
    engine = SimpleNamespace(close=lambda: closed.append(True))
    monkeypatch.setattr("priorlab.run.make_engine", lambda cfg, policy: engine)

    def fails(*args, **kwargs):
        raise RuntimeError("sampling failed")

    # (the module object: the dotted name "priorlab.evaluate" is the API function)
    monkeypatch.setattr(importlib.import_module("priorlab.evaluate"), "sample_table", fails)
    cfg = EvalConfig(model=str(tiny_prior), out=str(tmp_path / "e"), problems=4, samples=2)
    with pytest.raises(RuntimeError, match="sampling failed"):
        evaluate_policy(cfg)
    assert closed == [True]
    assert not (tmp_path / "e" / "metrics.json").exists()
