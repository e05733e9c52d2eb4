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


ARITH3 = {"steps": 2, "ops": ["+", "-", "*"]}


@pytest.mark.parametrize("share, expected", [(0.0, 0), (0.03, 12), (0.1, 40), (1.0, 400)])
def test_exposure_sets_the_share_of_corpus_problems_using_the_skill(share, expected):
    task = make_task("arith", **ARITH3)
    cfg = PretrainConfig(task_params=ARITH3, corpus_size=400, exposure={"*": share})
    problems, _ = corpus(task, cfg, random.Random(0))
    using = [p for p in problems if "*" in p.prompt]
    assert len(problems) == len({p.prompt for p in problems}) == 400
    assert len(using) == expected  # round(share x 400): 0, 12, 40, 400


def test_exposure_is_a_dial_at_fixed_corpus_size_and_zero_is_withholding():
    task = make_task("arith", **ARITH3)
    zero = PretrainConfig(task_params=ARITH3, corpus_size=300, exposure={"*": 0.0})
    withheld = PretrainConfig(task_params=ARITH3, corpus_size=300, withhold=["*"])
    a, _ = corpus(task, zero, random.Random(0))
    b, _ = corpus(task, withheld, random.Random(0))
    assert {p.prompt for p in a} == {p.prompt for p in b}  # the same problems, shuffled


@pytest.mark.parametrize(
    "fields, match",
    [
        ({"exposure": {"*": 1.5}}, r"exposure\.\*: must be a share in \[0, 1\], got 1.5"),
        ({"exposure": {"*": "half"}}, r"exposure\.\*: must be a share"),
        ({"exposure": {"*": 0.1}, "withhold": ["*"]}, r"exposure\.\*: is also withheld"),
        ({"exposure": {"*": 0.1, "-": 0.5}}, r"exposure: one skill at a time"),
        ({"exposure": {"*": 0.1}, "corpus_size": None}, r"exposure: needs corpus_size"),
    ],
)
def test_bad_exposure_is_refused_naming_the_field(fields, match):
    from priorlab.config import validate_pretrain

    cfg = PretrainConfig(task_params=ARITH3, **{"corpus_size": 300, **fields})
    with pytest.raises(ConfigError, match=match):
        validate_pretrain(cfg)


def test_a_share_the_task_cannot_fill_names_the_field():
    task = make_task("arith", steps=2, ops=["+", "-", "*"], operand_max=2)
    cfg = PretrainConfig(corpus_size=400, exposure={"*": 1.0})
    with pytest.raises(ConfigError, match=r"exposure\.\*: .*lower corpus_size"):
        corpus(task, cfg, random.Random(0))


def test_an_unknown_exposure_skill_names_the_field_and_the_accepted_skills():
    task = make_task("arith", **ARITH3)
    cfg = PretrainConfig(corpus_size=100, exposure={"^": 0.1})
    with pytest.raises(ConfigError, match=r"exposure\.\^: .*accepted: '\+', '-', '\*'"):
        corpus(task, cfg, random.Random(0))
