"""Every built-in preset can run: each prior's pretraining corpus and each run's problem
pools are drawn exactly as `priorlab compare` would draw them, without a model or training,
so a preset that asks a task for more problems than it holds fails here, not an hour in.
"""

import functools
import json
import random
from types import SimpleNamespace

import pytest

from priorlab.config import PretrainConfig, TrainConfig, build
from priorlab.experiments.spec import expand, load_spec, preset_names
from priorlab.models import CharTokenizer
from priorlab.priors import corpus, with_roles
from priorlab.rollout import check_context
from priorlab.tasks import make_task
from priorlab.tasks.pools import run_pools

TOKENIZER = CharTokenizer()


def char_model(max_len: int) -> SimpleNamespace:
    """What `check_context` reads of a built-in prior: its tokenizer and its positions."""
    return SimpleNamespace(
        tokenizer=TOKENIZER, model=SimpleNamespace(cfg=SimpleNamespace(max_len=max_len))
    )


@functools.cache
def task_of(name: str, params: str):
    return make_task(name, **json.loads(params))


@functools.cache
def pools_of(task: str, params: str, seed: int, train: int, test: int, require: tuple, dev: int):
    """A run's pools; cached, since most runs of a sweep differ only in the algorithm."""
    return run_pools(
        task_of(task, params),
        seed=seed,
        train_problems=train,
        eval_problems=test,
        eval_require=require,
        dev_problems=dev,
    )


def prior_corpus(config: dict) -> PretrainConfig:
    """Build a prior job's corpus as `priors.pretrain` does; assert every example fits."""
    cfg = build(PretrainConfig, config)
    task = task_of(cfg.task, json.dumps(cfg.task_params, sort_keys=True))
    rng = random.Random(cfg.seed)
    problems, texts = corpus(task, cfg, rng)
    pairs = ([p.prompt for p in problems], texts)
    if cfg.roles:
        pairs = with_roles(task, cfg, problems, pairs, char_model(cfg.max_len), rng)
    longest = max(
        len(TOKENIZER.encode(p)) + len(TOKENIZER.encode(t, bos=False)) + 1 for p, t in zip(*pairs)
    )
    assert longest <= cfg.max_len, f"a corpus example of {longest} tokens is cut to max_len"
    return cfg


@pytest.mark.parametrize("name", preset_names())
def test_every_preset_builds_its_corpora_and_problem_pools(name):
    sweep = expand(load_spec(name))
    priors = {job.id: prior_corpus(job.config) for job in sweep.priors}
    for job in sweep.runs:
        cfg = build(TrainConfig, job.config)
        prior = priors[job.deps[0]] if job.deps else None  # none: a given (HF) prior
        params = cfg.task_params or prior.task_params  # as Run: the prior's when unset
        pools = pools_of(
            cfg.task,
            json.dumps(params, sort_keys=True),
            cfg.seed,
            cfg.train_problems,
            cfg.eval_problems,
            tuple(cfg.eval_require),
            cfg.dev_problems if cfg.dev_every else 0,
        )
        assert len(pools.train) == cfg.train_problems and len(pools.test) == cfg.eval_problems
        for pool in (pools.train, pools.test, pools.dev) if prior else ():  # a char model's
            check_context(char_model(prior.max_len), pool, max_new_tokens=cfg.max_new_tokens)
