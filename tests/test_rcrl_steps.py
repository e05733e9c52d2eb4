"""RCRL's per-step labels (Havrilla et al. 2024, dense signal): a return token opens each
step in training, and sampling repeats the prompt's token at every step."""

import json

import pytest
import torch

from priorlab.errors import ConfigError
from priorlab.models import load_policy
from priorlab.models.tokenizer import CharTokenizer
from priorlab.tasks import make_task
from priorlab.tasks.base import Problem
from priorlab.train import train
from tests.test_train import small

TOK = CharTokenizer()
R0, R1 = TOK.return_ids


def _problem():
    task = make_task("arith", steps=2, ops=["+", "*"])
    return task, Problem("p", "3+4*2=", "14", "3+4=7,7*2=14#14", ("*", "+"))


def _ids(*parts):
    """Return tokens (ints) and text pieces, as one list of ids."""
    out = []
    for part in parts:
        out += [part] if isinstance(part, int) else TOK.encode(part, bos=False)
    return out


@pytest.mark.parametrize(
    "text, correct, expected",
    [
        ("3+4=7,7*2=14#14", True, (R1, "3+4=7,", R1, "7*2=14#", R1, "14")),
        ("3+4=7,7*2=15#15", False, (R1, "3+4=7,", R0, "7*2=15#", R0, "15")),
        ("3+4=8,8*2=16#14", True, (R0, "3+4=8,", R0, "8*2=16#", R1, "14")),  # a lucky answer
        ("3+4=7,7*2=14#", False, (R1, "3+4=7,", R1, "7*2=14#", R0, "")),  # no answer written
        ("3+4=7,7*", False, (R1, "3+4=7,", R0, "7*")),  # cut short: the open step is not right
        ("3+4=7,7*2=14,1+1=2#2", False, (R1, "3+4=7,", R1, "7*2=14,", R0, "1+1=2#", R0, "2")),
    ],
)
def test_each_step_is_labelled_by_its_result_and_the_answer_by_the_verdict(text, correct, expected):
    from priorlab.offline import step_labelled

    task, problem = _problem()
    assert step_labelled(TOK, task, problem, text, correct) == _ids(*expected)


def test_a_task_without_step_marks_is_refused_by_name(tiny_prior, tmp_path):
    from priorlab.validate import validate_run

    with pytest.raises(ConfigError, match="algo.step_labels.*countdown.*tasks that do: arith"):
        validate_run(small(tiny_prior, tmp_path / "c", algo="rcrl", task="countdown",
                           algo_params={"step_labels": True}))  # fmt: skip
    with pytest.raises(ConfigError, match="algo.step_labels.*grpo is online"):
        validate_run(small(tiny_prior, tmp_path / "g", algo="grpo",
                           algo_params={"step_labels": True}))  # fmt: skip


def _draw(policy, first: int, n=24):
    from priorlab.rollout import sample

    prompt = [first, *TOK.encode("3+4*2=", bos=False)]
    out = sample(
        policy, [prompt] * n, max_new_tokens=24, generator=torch.Generator().manual_seed(0)
    )
    return [row[: int(length)] for row, length in zip(out.response.tolist(), out.lengths)]


def test_sampling_opens_every_step_with_the_prompts_return_token(tiny_prior):
    policy = load_policy(tiny_prior)
    marks = TOK.encode(",#", bos=False)
    free = _draw(policy, R1)  # no step labels: nothing forced
    assert not any(t in (R0, R1) for row in free for t in row)
    policy.meta = {**policy.meta, "condition_steps": marks}
    for token in (R1, R0):
        rows = _draw(policy, token)
        assert all(row[0] == token for row in rows)
        after_mark = [row[i + 1] for row in rows for i in range(len(row) - 1) if row[i] in marks]
        assert len(after_mark) >= len(rows) and set(after_mark) == {token}
        for row in rows:
            opened = [i for i, t in enumerate(row) if t in (R0, R1)]
            assert all(i == 0 or row[i - 1] in marks for i in opened)  # nowhere else
    assert not any(t in (R0, R1) for row in _draw(policy, TOK.bos_id) for t in row)


def test_a_step_labelled_run_trains_on_labelled_steps_and_saves_its_condition(
    tiny_prior, tmp_path, monkeypatch
):
    from priorlab import offline

    seen, forced = [], []
    fit_round, sample_round = offline.fit_round, offline._sample_round

    def spy(run, examples, *args, **kwargs):
        seen.append(examples)
        return fit_round(run, examples, *args, **kwargs)

    def spy_sampling(run, *args, **kwargs):
        forced.append(run.policy.meta.get("condition_steps"))
        return sample_round(run, *args, **kwargs)

    monkeypatch.setattr(offline, "fit_round", spy)
    monkeypatch.setattr(offline, "_sample_round", spy_sampling)
    out = tmp_path / "run"
    cfg = small(tiny_prior, out, algo="rcrl", reward="verifier",
                algo_params={"step_labels": True})  # fmt: skip
    train(cfg, quiet=True)
    marks = TOK.encode(",#", bos=False)
    assert forced == [None, marks]  # the untrained first round samples as the prior does
    examples = seen[-1]
    assert all(isinstance(ids, list) and ids[0] in (R0, R1) for _, ids, _ in examples)
    policy = load_policy(out / "policy")
    assert policy.meta["condition_steps"] == marks
    assert policy.meta["condition_prefix"] == [R1]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["updates"] > 0


def test_forced_return_tokens_condition_the_loss_but_are_not_its_targets(tiny_prior):
    """lm_loss with `forced`: the token-mean NLL over the other completion tokens only, by hand
    from the teacher-forced log-probs; the forced tokens still sit in the context."""
    from priorlab.encoding import encode_pairs
    from priorlab.rollout import next_token_logprobs
    from priorlab.supervised import lm_loss

    policy = load_policy(tiny_prior)
    completion = _ids(R1, "3+4=7,", R0, "7*2=15#", R0, "15")
    samples = encode_pairs(TOK, ["3+4*2="], [completion], max_len=64, prefixes=[[R1]])
    logp = next_token_logprobs(policy, samples)[0][0]  # (T, V)
    targets = samples.response[0]
    picked = logp.gather(1, targets[:, None]).squeeze(1)
    kept = [i for i, t in enumerate(targets.tolist()) if t not in (R0, R1)]
    assert len(kept) == len(completion) + 1 - 3  # the EOS is a target, the 3 tokens are not
    expected = -picked[kept].mean()
    got = lm_loss(policy, samples, include_prompt=False, forced=(R0, R1))
    assert torch.allclose(got, expected, atol=1e-5)
    assert not torch.allclose(lm_loss(policy, samples, include_prompt=False), expected, atol=1e-3)


def test_step_return_tokens_take_no_position_so_the_steps_keep_the_priors():
    """TinyGPT's positions by hand: left padding and a return token inside a row take none
    (the token sits at the position before it); a row's first token, <r1> for BOS, takes 0;
    computed in one pass or chunk by chunk through the placed count, the same."""
    from priorlab.models.transformer import place

    a, b, comma = _ids("3+,")
    tokens = torch.tensor([[0, 0, R1, a, comma, R0, b, comma], [R1, a, b, comma, R1, R1, a, b]])
    valid = torch.tensor([[0, 0, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1, 0]], dtype=torch.bool)
    pos, placed = place(tokens, valid, None, (R0, R1))
    assert pos.tolist() == [[0, 0, 0, 1, 2, 2, 3, 4], [0, 1, 2, 3, 3, 3, 4, 4]]
    assert placed.tolist() == [5, 5]
    head, n = place(tokens[:, :5], valid[:, :5], None, (R0, R1))
    assert torch.equal(head, pos[:, :5])
    for t in range(5, 8):  # as the sampler feeds them, one token at a time
        one, n = place(tokens[:, t : t + 1], valid[:, : t + 1], n, (R0, R1))
        assert torch.equal(one[:, 0], pos[:, t])
    assert n.tolist() == [5, 5]
    plain, _ = place(tokens, valid, None, ())  # no unplaced ids: every real token counts
    assert torch.equal(plain, (valid.long().cumsum(1) - 1).clamp(min=0))


def test_sampled_log_probs_of_a_step_labelled_policy_equal_the_teacher_forced_ones(tiny_prior):
    """The sampler (KV cache, one token at a time) and a full forward pass place the forced
    return tokens alike: each drawn token's log-prob is the same both ways."""
    from priorlab.rollout import sample, sequence_logp

    policy = load_policy(tiny_prior)
    policy.meta = {**policy.meta, "condition_steps": TOK.encode(",#", bos=False)}
    prompt = [R1, *TOK.encode("3+4*2=", bos=False)]
    out = sample(
        policy, [prompt] * 6, max_new_tokens=24, generator=torch.Generator().manual_seed(0)
    )
    assert any(t in (R0, R1) for t in out.response[:, 1:].flatten().tolist())
    logp, _, _ = sequence_logp(policy, out)
    on = out.mask.bool()
    assert torch.allclose(logp[on], out.logp[on], atol=1e-5)
