"""The offline loops read their preset's loss and aggregation; other fields are refused."""

import json
import math

import pytest
import torch

from priorlab.algos import bind, make_algorithm
from priorlab.errors import ConfigError
from priorlab.models import load_policy
from priorlab.rollout import Samples
from priorlab.supervised import lm_loss
from priorlab.train import train
from tests.test_train import small


class _PositionLogits:
    """A stand-in policy over 2 tokens: at position t the logit of token 1 is a[t], so
    log p(1) = log sigmoid(a[t])."""

    def __init__(self, a):
        self.model = lambda tokens, valid: (
            torch.stack([torch.zeros(len(a)), torch.tensor(a)], -1).expand(len(tokens), -1, -1),
            None,
        )


def test_the_fine_tuning_loss_is_the_presets_nll_aggregated_as_it_says():
    # one prompt token, then completions of 1 and 3 tokens, every target token 1
    samples = Samples(
        prompt=torch.zeros(2, 1, dtype=torch.long),
        prompt_mask=torch.ones(2, 1, dtype=torch.bool),
        response=torch.tensor([[1, 0, 0], [1, 1, 1]]),
        mask=torch.tensor([[1.0, 0, 0], [1, 1, 1]]),
        logp=torch.zeros(2, 3),
        entropy=torch.zeros(2, 3),
        lengths=torch.tensor([1, 3]),
        truncated=torch.zeros(2, dtype=torch.bool),
    )
    policy = _PositionLogits([0.0, math.log(3), math.log(3), 0.0])  # p = 1/2, 3/4, 3/4
    half, quarter = math.log(2), math.log(4 / 3)  # -log p of each target
    by_token = (half + half + 2 * quarter) / 4
    by_sequence = (half + (half + 2 * quarter) / 3) / 2
    for aggregation, want in (("token_mean", by_token), ("seq_mean_token_mean", by_sequence)):
        parts = bind(make_algorithm("sft", aggregation=aggregation), max_new_tokens=3)
        got = lm_loss(
            policy,
            samples,
            include_prompt=False,
            per_token_loss=parts.per_token_loss,
            aggregate=parts.aggregate,
        )
        assert float(got) == pytest.approx(want, rel=1e-6), aggregation
    assert float(lm_loss(policy, samples, include_prompt=False)) == pytest.approx(by_token)


def test_an_offline_runs_aggregation_reaches_its_update(tiny_prior, tmp_path):
    weights = {}
    for aggregation in ("token_mean", "seq_mean_token_sum"):
        out = tmp_path / aggregation
        cfg = small(tiny_prior, out, algo="sft", algo_params={"aggregation": aggregation})
        train(cfg, quiet=True)
        weights[aggregation] = load_policy(out / "policy").model.state_dict()
    a, b = weights.values()
    assert any(not torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize(
    "algo, field, value",
    [("ei", "policy_loss", "clip"), ("rcrl", "advantage", "grpo"), ("sft", "policy_loss", "gppo")],
)
def test_an_offline_algorithm_refuses_a_loss_or_advantage_it_would_not_read(algo, field, value):
    with pytest.raises(ConfigError, match=f"{field} must be") as e:
        make_algorithm(algo, **{field: value})
    assert e.value.field == f"algo.{field}"


# --- a round's fine-tuning: its stopping rule, minibatches and parameter groups ---


def test_the_stopping_rule_converges_on_a_stale_loss_and_caps_a_falling_one():
    from priorlab.offline import EarlyStop

    rule = EarlyStop(patience=2, min_delta=0.01, max_steps=100)
    # 0.895 is not 0.01 below the best 0.9 (stale 1), 0.899 neither (stale 2): converged
    assert [rule.update(loss, s) for loss, s in ((1.0, 10), (0.9, 20), (0.895, 30))] == [None] * 3
    assert rule.update(0.899, 40) == "converged" and rule.best == 0.9
    falling = EarlyStop(patience=2, min_delta=0.01, max_steps=30)
    assert [falling.update(loss, s) for loss, s in ((1.0, 10), (0.9, 20), (0.8, 30))] == [
        None,
        None,
        "capped",
    ]


def test_a_round_stops_by_its_rule_and_keeps_its_best_weights(tiny_prior, tmp_path, monkeypatch):
    from priorlab import offline
    from priorlab.optim import make_optimizer
    from priorlab.run import Run

    cfg = small(tiny_prior, tmp_path / "r", algo="ei", ft_epochs=0, ft_patience=2,
                ft_min_delta=0.01, ft_warmup=0, minibatch_size=4, lr=1e-3)  # fmt: skip
    run = Run(cfg)
    examples = [(p, p.solution, None) for p in run.pool[:40]]  # 4 held out: 36 rows, 9 steps
    losses = iter([1.0, 0.9, 0.895, 0.899, 0.1])  # checked every 2 epochs (>= 10 steps)
    weights = []

    def val_loss(run, rows):
        weights.append({k: v.clone() for k, v in run.policy.model.state_dict().items()})
        return next(losses)

    monkeypatch.setattr(offline, "validation_loss", val_loss)
    fit = offline.fit_round(run, examples, lambda: make_optimizer(run.policy.model, run.lr))
    assert (fit["ft/train_rows"], fit["ft/val_rows"]) == (36, 4)
    assert fit["ft/converged"] == 1.0 and fit["ft/val_loss"] == 0.9
    assert (fit["ft/epochs"], fit["ft/steps"], run.updates) == (8, 72, 72)  # 4 checks
    kept = run.policy.model.state_dict()
    assert all(torch.equal(kept[k], weights[1][k]) for k in kept)  # the second check's


def test_label_separation_by_hand(tiny_prior, tmp_path, monkeypatch):
    """Per label, mean NLL(other) - NLL(own); then the mean over the labels present."""
    from priorlab import offline
    from priorlab.run import Run

    run = Run(small(tiny_prior, tmp_path / "r", algo="rcrl"))
    tok = run.policy.tokenizer
    r1, r0 = [tok.return_token(True)], [tok.return_token(False)]
    p = run.pool[0]
    nll = {("a", r1[0]): 1.0, ("a", r0[0]): 1.5, ("b", r1[0]): 2.0, ("b", r0[0]): 3.0,
           ("c", r0[0]): 2.0, ("c", r1[0]): 1.0}  # fmt: skip

    def fake(run, examples):
        return torch.tensor([nll[(c, x[0])] for _, c, x in examples])

    monkeypatch.setattr(offline, "sequence_nll", fake)
    examples = [(p, "a", r1), (p, "b", r1), (p, "c", r0)]
    # <r1>: (1.5 - 1.0 + 3.0 - 2.0) / 2 = 0.75; <r0>: 1.0 - 2.0 = -1.0; mean -0.125
    assert offline.label_separation(run, examples) == pytest.approx(-0.125)
    assert offline.label_separation(run, examples[:2]) == pytest.approx(0.75)  # one label


def test_label_separation_is_zero_while_the_tokens_are_copies(tiny_prior, tmp_path):
    from priorlab import offline
    from priorlab.run import Run

    run = Run(small(tiny_prior, tmp_path / "r", algo="rcrl"))
    tok = run.policy.tokenizer
    run.policy.init_tokens_like(list(tok.return_ids), tok.bos_id)
    examples = [(p, p.solution, [tok.return_token(i % 2 == 0)]) for i, p in enumerate(run.pool[:6])]
    assert offline.label_separation(run, examples) == pytest.approx(0.0, abs=1e-5)
    nll = offline.sequence_nll(run, examples)
    assert nll.shape == (6,) and bool((nll > 0).all())


def test_a_capped_round_is_not_converged(tiny_prior, tmp_path):
    from priorlab import offline
    from priorlab.optim import make_optimizer
    from priorlab.run import Run

    cfg = small(tiny_prior, tmp_path / "r", algo="ei", ft_epochs=0, ft_max_steps=3)
    run = Run(cfg)
    examples = [(p, p.solution, None) for p in run.pool[:20]]
    fit = offline.fit_round(run, examples, lambda: make_optimizer(run.policy.model, run.lr))
    assert fit["ft/converged"] == 0.0 and fit["ft/steps"] == 3


@pytest.mark.parametrize("n, size", [(36, 16), (16, 16), (47, 16), (5, 16), (1000, 256)])
def test_minibatches_take_every_row_once_and_none_is_short(n, size):
    from priorlab.offline import minibatches

    chunks = minibatches(n, size, torch.Generator().manual_seed(0))
    assert sorted(i for c in chunks for i in c) == list(range(n))
    assert all(len(c) >= min(size, n) for c in chunks) and len(chunks) == max(1, n // size)


def test_sft_merges_its_leftover_rows_into_the_last_step(tiny_prior, tmp_path):
    import json

    cfg = small(tiny_prior, tmp_path / "s", algo="sft", rollout_budget=72, test_eval=False)
    train(cfg, quiet=True)
    rows = [json.loads(x) for x in (tmp_path / "s" / "metrics.jsonl").open()]
    samples = [r["samples"] for r in rows if "loss/sft" in r]
    assert samples == [16, 32, 48, 72]  # a last step of 24 rows, not one of 8


def test_the_return_tokens_get_their_own_learning_rate():
    from priorlab.models.policy import build_policy
    from priorlab.optim import make_optimizer

    torch.manual_seed(0)
    policy = build_policy("0.1m", max_len=16)
    model, rows = policy.model, [3, 4]
    opt = make_optimizer(model, 1e-4, rows=rows, rows_lr=1e-2)
    assert [g["lr"] for g in opt.param_groups] == [1e-4, 1e-2]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    tokens = torch.tensor([[3, 5, 6, 7], [4, 5, 6, 8]])
    logits, _ = model(tokens, torch.ones_like(tokens, dtype=torch.bool))
    logits.logsumexp(-1).sum().backward()
    opt.step()
    # Adam's first step moves a weight with a gradient by lr x sign(gradient)
    moved = (model.tok_emb.weight.detach() - before["tok_emb.weight"]).abs()
    assert torch.allclose(moved[rows], torch.full_like(moved[rows], 1e-2), rtol=1e-3)
    assert torch.allclose(moved[[5, 6]], torch.full_like(moved[[5, 6]], 1e-4), rtol=1e-3)
    body = (model.head.weight.detach() - before["head.weight"]).abs()
    assert float(body.max()) == pytest.approx(1e-4, rel=1e-3)


@pytest.fixture(scope="module")
def strong_prior(tmp_path_factory):
    """A 1M-parameter prior that learned the corpus's corrupted-step mode (wrong_frac 0.5):
    right about half the time, so RCRL has both labels to learn from."""
    from priorlab.config import PretrainConfig
    from priorlab.priors import pretrain

    out = tmp_path_factory.mktemp("strong") / "p"
    cfg = PretrainConfig(out=str(out), task_params={"steps": 2, "ops": ["+", "-"]}, size="1m",
                         steps=1000, corpus_size=2000, batch_size=32, lr=2e-3, seed=0)  # fmt: skip
    pretrain(cfg, quiet=True)
    return out


@pytest.fixture(scope="module")
def rcrl_run(strong_prior, tmp_path_factory):
    """RCRL from the strong prior: 4 rounds on 1,024 completions; (summary, out dir)."""
    from priorlab.config import TrainConfig

    out = tmp_path_factory.mktemp("rcrl") / "run"
    cfg = TrainConfig(model=str(strong_prior), out=str(out), algo="rcrl", rollout_budget=1024,
                      rounds=4, max_new_tokens=28, train_problems=1000, eval_problems=64,
                      eval_samples=8, tensorboard=False)  # fmt: skip
    return train(cfg, quiet=True), out


@pytest.mark.long  # a 1M prior of 1,000 steps, then RCRL: ~11-20 min on 2 cores
def test_rcrl_rounds_end_by_their_stopping_rule(rcrl_run):
    summary, out = rcrl_run
    rows = [json.loads(x) for x in (out / "metrics.jsonl").open() if "ft/steps" in x]
    assert len(rows) == 4 and all(r["ft/converged"] == 1.0 for r in rows)
    assert all(math.isfinite(r["rcrl/separation"]) for r in rows)  # logged, not asserted
    assert summary["updates"] == sum(r["ft/steps"] for r in rows)
    # the last round says whether the condition was learnt: dev accuracy <r1> - <r0>
    assert all("rcrl/condition_gap" not in r for r in rows[:-1])
    gap, se = rows[-1]["rcrl/condition_gap"], rows[-1]["rcrl/condition_se"]
    assert -1 <= gap <= 1 and 0 <= se < 1  # 0: the same draws under both tokens


@pytest.fixture(scope="module")
def rcrl_long(strong_prior, tmp_path_factory):
    """RCRL as the algorithm-level preset runs it: rounds of 40 epochs in minibatches of 64
    (every stopping rule tried ends a round before the condition separates), 4 rounds on
    2,048 completions; the out dir."""
    from priorlab.config import TrainConfig

    out = tmp_path_factory.mktemp("rcrl-long") / "run"
    cfg = TrainConfig(model=str(strong_prior), out=str(out), algo="rcrl", rollout_budget=2048,
                      rounds=4, ft_epochs=40, minibatch_size=64, max_new_tokens=28,
                      train_problems=1000, eval_problems=64, eval_samples=8,
                      tensorboard=False)  # fmt: skip
    train(cfg, quiet=True)
    return out


@pytest.mark.long  # a 1M prior of 1,000 steps, then RCRL: ~11-20 min on 2 cores
def test_rcrl_learns_its_condition_accuracy_under_r1_exceeds_r0(rcrl_long):
    from priorlab.samples import sample_table
    from priorlab.tasks import make_task
    from priorlab.tasks.pools import run_pools

    policy = load_policy(rcrl_long / "policy")
    task = make_task("arith", steps=2, ops=["+", "-"])
    test = run_pools(task, seed=0, train_problems=10, eval_problems=256).test
    correct = {}
    for good in (True, False):
        table = sample_table(policy, task, test, n=16, max_new_tokens=28, temperature=1.0,
                             generator=torch.Generator().manual_seed(1), greedy=False,
                             prefix=[policy.tokenizer.return_token(good)])  # fmt: skip
        correct[good] = table.groupby("problem_id")["correct"].mean().sort_index().to_numpy()
    diff = correct[True] - correct[False]  # paired over the 256 problems
    se = diff.std(ddof=1) / math.sqrt(len(diff))
    assert diff.mean() - 1.96 * se > 0, (correct[True].mean(), correct[False].mean(), se)
