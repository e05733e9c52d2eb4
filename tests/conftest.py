import pytest

from priorlab.config import PretrainConfig
from priorlab.priors import pretrain

EASY = {"steps": 2, "ops": ["+", "-"]}


def _prior(tmp_path_factory, name: str, **extra):
    """A barely trained 0.1M-parameter prior on easy arith: enough for smoke tests."""
    out = tmp_path_factory.mktemp(name) / "p"
    cfg = PretrainConfig(
        out=str(out),
        task_params=EASY,
        size="0.1m",
        steps=200,
        corpus_size=500,
        batch_size=32,
        seed=0,
        **extra,
    )
    pretrain(cfg, quiet=True)
    return out


@pytest.fixture(scope="session")
def tiny_prior(tmp_path_factory):
    return _prior(tmp_path_factory, "prior")


@pytest.fixture(scope="session")
def role_prior(tmp_path_factory):
    """tiny_prior's twin that also learned the judge, critic and hint formats."""
    return _prior(tmp_path_factory, "role_prior", max_len=96, roles=["judge", "critic", "hint"])
