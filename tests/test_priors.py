import random

import pytest

from priorlab.config import PretrainConfig
from priorlab.errors import ConfigError
from priorlab.priors import corpus, pretrain, sft_steps
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


def test_countdown_pretrains_with_the_default_corpus_size(tmp_path):
    # countdown's default knobs hold ~8,500 distinct train problems, fewer than 20,000
    cfg = PretrainConfig(
        out=str(tmp_path / "p"), task="countdown", size="0.1m", steps=2, batch_size=4
    )
    assert cfg.corpus_size is None
    policy = pretrain(cfg, quiet=True)
    assert 8000 < policy.meta["corpus_problems"] < 9000
    assert (tmp_path / "p" / "model.safetensors").is_file()


def test_an_explicit_corpus_size_the_task_cannot_fill_names_the_field():
    task = make_task("arith", steps=1, operand_max=3, ops=["+"])  # 16 prompts in all
    with pytest.raises(ConfigError, match="corpus_size: arith: found only .* leave corpus_size"):
        corpus(task, PretrainConfig(corpus_size=100), random.Random(0))
    problems, _ = corpus(task, PretrainConfig(), random.Random(0))  # unset: all there are
    assert 5 < len(problems) < 16
