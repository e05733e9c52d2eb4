import pytest

from priorlab.config import PretrainConfig
from priorlab.priors import pretrain

EASY = {"steps": 2, "ops": ["+", "-"]}


@pytest.fixture(scope="session")
def tiny_prior(tmp_path_factory):
    """A barely trained 0.1M-parameter prior on easy arith: enough for smoke tests."""
    out = tmp_path_factory.mktemp("prior") / "p"
    cfg = PretrainConfig(
        out=str(out),
        task_params=EASY,
        size="0.1m",
        steps=200,
        corpus_size=500,
        batch_size=32,
        seed=0,
    )
    pretrain(cfg, quiet=True)
    return out


@pytest.fixture(scope="session")
def role_prior(tmp_path_factory):
    """tiny_prior's twin that also learned the judge, critic and hint formats."""
    out = tmp_path_factory.mktemp("role_prior") / "p"
    cfg = PretrainConfig(
        out=str(out),
        task_params=EASY,
        size="0.1m",
        steps=200,
        corpus_size=500,
        batch_size=32,
        max_len=96,
        roles=["judge", "critic", "hint"],
        seed=0,
    )
    pretrain(cfg, quiet=True)
    return out
