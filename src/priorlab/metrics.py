"""Metrics of a per-sample table: unbiased pass@k, majority vote, rerank@k, the summary.

Pure functions of counts, arrays and tables: no model, no files (sampling and storage are
in priorlab.samples). The per-sample table has one row per completion: `problem_id`,
`sample`, `completion`, `answer` (None when unparsed), `correct`, `parsed`, `entropy`,
`length`, and optionally `greedy` (True for the one greedy decode per problem, kept out of
the sampled metrics) and `score` (a reward model's score: rerank@k).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

SAMPLE_COLUMNS = (
    "problem_id",
    "sample",
    "completion",
    "answer",
    "correct",
    "parsed",
    "entropy",
    "length",
)

# --- Unbiased pass@k ---


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of k samples, drawn from n of which c are correct, is correct.

    pass@k = 1 - C(n-c, k) / C(n, k), computed as 1 - prod_{i=n-c+1..n} (1 - k/i), which
    stays exact where the binomials overflow; it is 1.0 when n - c < k.
    Unbiased estimator of Chen et al. 2021, "Evaluating Large Language Models Trained on
    Code" (arXiv 2107.03374). Never use "any of the first k correct": that is biased.
    """
    if n < 1:
        raise ValueError(f"n={n}: the number of samples must be at least 1")
    if not 0 <= c <= n:
        raise ValueError(f"c={c}: the number correct must be in [0, n={n}]")
    if not 1 <= k <= n:
        raise ValueError(f"k={k}: k must be in [1, n={n}]")
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def ks_for(n: int) -> list[int]:
    """The ks reported for n samples: 1, 2, 4, ... up to n, and n itself when not a power of 2."""
    if n < 1:
        raise ValueError(f"n={n}: the number of samples must be at least 1")
    ks = [2**i for i in range(n.bit_length()) if 2**i <= n]
    return ks if ks[-1] == n else [*ks, n]


def pass_at_k_curve(n: int, c: int) -> dict[int, float]:
    """pass@k (Chen et al. 2021) for every k in ks_for(n), with c of the n samples correct."""
    return {k: pass_at_k(n, c, k) for k in ks_for(n)}


# --- Majority vote ---


def _vote_scores(codes: np.ndarray, is_correct: np.ndarray, subsets: np.ndarray) -> np.ndarray:
    """Majority-vote score of each subset; codes (n,) index answers, len(is_correct) is unparsed.

    subsets: (S, k) sample indices. Returns (S,): the fraction of tied top answers that are
    correct, 0 for a subset without any parsed answer.
    """
    n_answers = len(is_correct)
    counts = np.zeros((len(subsets), n_answers + 1), dtype=np.int64)  # (S, m + 1)
    np.add.at(counts, (np.arange(len(subsets))[:, None], codes[subsets]), 1)
    counts = counts[:, :n_answers]  # drop the unparsed column: (S, m)
    if n_answers == 0:
        return np.zeros(len(subsets))
    top = counts.max(axis=1, keepdims=True)  # (S, 1)
    tied = (counts == top) & (top > 0)  # (S, m)
    n_tied = tied.sum(axis=1)
    won = (tied & is_correct[None, :]).sum(axis=1)
    return np.where(n_tied > 0, won / np.maximum(n_tied, 1), 0.0)


def maj_at_k(
    answers: Sequence[str | None],
    correct: Sequence[bool],
    k: int,
    rng: np.random.Generator,
    n_subsets: int = 200,
) -> float:
    """Expected accuracy of a majority vote over k of the n samples' extracted answers.

    Answers are compared after str.strip(); None (unparsed) never votes, and a subset with no
    parsed answer scores 0. An answer string is correct if any sample giving it is marked
    correct. Ties score the fraction of tied top answers that are correct (a uniformly random
    tie-break, in expectation). k == n is the exact vote over all samples; for k < n the mean
    over all C(n, k) subsets when C(n, k) <= n_subsets, else over n_subsets random k-subsets
    (without replacement, drawn with rng). Self-consistency: Wang et al. 2022 (2203.11171).
    """
    n = len(answers)
    if len(correct) != n:
        raise ValueError(f"answers has {n} entries but correct has {len(correct)}; they must match")
    if not 1 <= k <= n:
        raise ValueError(f"k={k}: k must be in [1, n={n}] (n = number of answers)")
    if n_subsets < 1:
        raise ValueError(f"n_subsets={n_subsets}: must be at least 1")
    keys = [None if a is None else str(a).strip() for a in answers]
    vocab = sorted({a for a in keys if a is not None})
    index = {a: i for i, a in enumerate(vocab)}
    codes = np.array([len(vocab) if a is None else index[a] for a in keys])  # (n,)
    right = {a for a, ok in zip(keys, correct, strict=True) if ok and a is not None}
    is_correct = np.array([a in right for a in vocab], dtype=bool)  # (m,)
    if math.comb(n, k) <= n_subsets:
        subsets = np.array(list(itertools.combinations(range(n), k)))  # (C(n, k), k)
    else:
        subsets = np.argsort(rng.random((n_subsets, n)), axis=1)[:, :k]  # (S, k)
    return float(_vote_scores(codes, is_correct, subsets).mean())


# --- Reranking by a reward model ---


def rerank_at_k(scores: Sequence[float], correct: Sequence[bool], k: int) -> float:
    """Expected correctness of the best-scored sample among k drawn from n (exact).

    With samples ranked by score (descending, ties by sample order), the i-th ranked
    (0-based) is the best of a random k-subset with probability C(n-1-i, k-1) / C(n, k), so
    rerank@k = sum_i correct_(i) C(n-1-i, k-1) / C(n, k). Havrilla et al. 2024's rerank@96.
    """
    n = len(scores)
    if len(correct) != n:
        raise ValueError(f"scores has {n} entries but correct has {len(correct)}; they must match")
    if not 1 <= k <= n:
        raise ValueError(f"k={k}: k must be in [1, n={n}]")
    order = sorted(range(n), key=lambda i: -float(scores[i]))  # stable: ties by sample order
    total = math.comb(n, k)
    return sum(math.comb(n - 1 - r, k - 1) for r, i in enumerate(order) if correct[i]) / total


# --- Summary of a per-sample table ---


def _split_greedy(samples: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(sampled rows, greedy rows), after checking the columns are all there."""
    missing = [col for col in SAMPLE_COLUMNS if col not in samples.columns]
    if missing:
        raise ValueError(f"sample table lacks columns {missing}; required: {list(SAMPLE_COLUMNS)}")
    if "greedy" not in samples.columns:
        return samples, samples.iloc[:0]
    is_greedy = samples["greedy"].fillna(False).astype(bool)
    return samples[~is_greedy], samples[is_greedy]


def per_problem(samples: pd.DataFrame, *, seed: int = 0) -> pd.DataFrame:
    """One row per problem (sorted by id) over its sampled rows (greedy rows excluded).

    Columns: problem_id, n, c, pass@k and maj@k for every k in ks_for(n) (maj@k uses one
    numpy.random.default_rng(seed), problem by problem), distinct_correct (distinct correct
    completions after strip), and greedy_correct (NaN where no greedy row) if a greedy row exists.
    Raises ValueError when problems have unequal numbers of sampled rows.
    """
    sampled, greedy = _split_greedy(samples)
    if sampled.empty:
        raise ValueError("sample table has no sampled (non-greedy) rows")
    counts = sampled.groupby("problem_id").size()
    expected = counts.value_counts().idxmax()
    uneven = counts[counts != expected]
    if len(uneven):
        name, size = uneven.index[0], uneven.iloc[0]
        raise ValueError(
            f"problem {name!r} has {size} sampled rows but most problems have {expected}; "
            "every problem needs the same number of samples"
        )
    ks = ks_for(int(expected))
    rng = np.random.default_rng(seed)
    rows = []
    for problem_id, group in sampled.groupby("problem_id", sort=True):
        correct = group["correct"].astype(bool).tolist()
        n, c = len(correct), sum(correct)
        row = {"problem_id": problem_id, "n": n, "c": c}
        row |= {f"pass@{k}": pass_at_k(n, c, k) for k in ks}
        answers = [None if pd.isna(a) else a for a in group["answer"]]
        row |= {f"maj@{k}": maj_at_k(answers, correct, k, rng) for k in ks}
        if "score" in group.columns:  # a reward model's score per sample: rerank@k
            scores, ok = group["score"].tolist(), group["correct"].astype(bool).tolist()
            row |= {f"rerank@{k}": rerank_at_k(scores, ok, k) for k in ks}
        right = group.loc[group["correct"].astype(bool), "completion"]
        row["distinct_correct"] = right.astype(str).str.strip().nunique()
        rows.append(row)
    table = pd.DataFrame(rows)
    if not greedy.empty:
        by_problem = greedy["correct"].astype(bool).groupby(greedy["problem_id"]).mean()
        table["greedy_correct"] = table["problem_id"].map(by_problem).astype(float)
    return table


def summarize(samples: pd.DataFrame, *, seed: int = 0) -> dict[str, float]:
    """Flat `eval/...` metrics of a per-sample table (columns in the module docstring).

    eval/pass@k, eval/maj@k (k in ks_for(n)) and eval/distinct_correct are means over problems
    of per_problem(samples, seed=seed); eval/maj@1_greedy is the greedy rows' accuracy (only
    when there are greedy rows); eval/accuracy, eval/parsed, eval/entropy and eval/length are
    means over the sampled rows (greedy excluded); eval/n_problems, eval/n_samples (per problem).
    """
    table = per_problem(samples, seed=seed)
    sampled, greedy = _split_greedy(samples)
    n = int(table["n"].iloc[0])
    metrics = {f"eval/pass@{k}": float(table[f"pass@{k}"].mean()) for k in ks_for(n)}
    metrics |= {f"eval/maj@{k}": float(table[f"maj@{k}"].mean()) for k in ks_for(n)}
    if "rerank@1" in table.columns:
        metrics |= {f"eval/rerank@{k}": float(table[f"rerank@{k}"].mean()) for k in ks_for(n)}
    if not greedy.empty:
        metrics["eval/maj@1_greedy"] = float(greedy["correct"].astype(bool).mean())
    metrics["eval/accuracy"] = float(sampled["correct"].astype(bool).mean())
    metrics["eval/parsed"] = float(sampled["parsed"].astype(bool).mean())
    metrics["eval/entropy"] = float(sampled["entropy"].mean())
    metrics["eval/length"] = float(sampled["length"].mean())
    metrics["eval/distinct_correct"] = float(table["distinct_correct"].mean())
    metrics["eval/n_problems"] = float(len(table))
    metrics["eval/n_samples"] = float(n)
    return metrics
