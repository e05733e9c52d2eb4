import pytest

TINY = {
    "name": "tiny",
    "task": "arith",
    "task_params": {"steps": 2, "ops": ["+", "-"]},
    "budget": 64,
    "seeds": [0, 1],
    "algos": ["sft", "grpo", "ei"],
    "priors": [{"label": "short", "steps": 20}, {"label": "long", "steps": 40}],
    "pretrain": {"size": "0.1m", "corpus_size": 200, "lr": 2.0e-3, "batch_size": 16},
    "train": {
        "train_problems": 64,
        "max_new_tokens": 12,
        "eval_problems": 6,
        "eval_samples": 4,
        "prompts_per_step": 8,
        "group_size": 4,
        "rounds": 1,
        "ft_epochs": 1,
    },
}


@pytest.fixture
def tiny_spec():
    """2 priors x 3 algorithms x 2 seeds of a 0.1M model: a whole sweep in seconds."""
    import copy

    return copy.deepcopy(TINY)
