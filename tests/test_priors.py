import random

import pytest

from priorlab.config import PretrainConfig
from priorlab.errors import ConfigError
from priorlab.priors import corpus, sft_steps
from priorlab.tasks import make_task


def test_sft_levels():
    assert [sft_steps(x, 1000) for x in ("none", "light", "heavy", "250")] == [0, 100, 500, 250]
    with pytest.raises(ConfigError, match="sft: 'lots'"):
        sft_steps("lots", 1000)


def test_corpus_withholds_skills_and_corrupts_the_asked_fraction():
    task = make_task("arith")
    cfg = PretrainConfig(corpus_size=1000, wrong_frac=0.3, withhold=["*"])
    problems, texts = corpus(task, cfg, random.Random(0))
    assert all("*" not in p.prompt and "*" not in t for p, t in zip(problems, texts))
    wrong = sum(not task.verify(p, t).correct for p, t in zip(problems, texts))
    assert 250 < wrong < 350  # Binomial(1000, 0.3)
    assert all(task.verify(p, t).parsed for p, t in zip(problems, texts))


def test_clean_corpus_is_all_gold():
    task = make_task("arith")
    problems, texts = corpus(
        task, PretrainConfig(corpus_size=200, wrong_frac=0.0), random.Random(0)
    )
    assert texts == [p.solution for p in problems]
