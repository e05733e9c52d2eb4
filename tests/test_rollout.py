import torch

from priorlab.models import build_policy
from priorlab.rollout import _top_p, sample, sequence_logp


def _prompts(tok):
    return [tok.encode(t) for t in ("1+2=", "13*4-7=", "9=", "5+5+5+5=")]


def test_sampler_log_probs_match_teacher_forcing():
    policy = build_policy("0.1m", seed=1)
    g = torch.Generator().manual_seed(0)
    s = sample(policy, _prompts(policy.tokenizer), max_new_tokens=12, generator=g)
    logp, ent, _ = sequence_logp(policy, s)
    assert torch.allclose(logp * s.mask, s.logp, atol=1e-5)
    assert torch.allclose(ent * s.mask, s.entropy, atol=1e-4)


def test_copies_of_a_prompt_share_one_prefill():
    policy = build_policy("0.1m", seed=1)
    prompts = [p for p in _prompts(policy.tokenizer) for _ in range(3)]  # 4 prompts x 3
    prefilled = []
    forward = policy.model.forward
    policy.model.forward = lambda tokens, *a, **k: (
        prefilled.append(len(tokens)) or forward(tokens, *a, **k)
    )
    s = sample(policy, prompts, max_new_tokens=12, generator=torch.Generator().manual_seed(0))
    del policy.model.forward
    assert prefilled == [4]
    assert torch.equal(s.prompt[0::3], s.prompt[1::3])
    logp, ent, _ = sequence_logp(policy, s)  # each row's cache is its own prompt's
    assert torch.allclose(logp * s.mask, s.logp, atol=1e-5)
    assert torch.allclose(ent * s.mask, s.entropy, atol=1e-4)
    assert not torch.equal(s.response[0::3], s.response[1::3])  # copies sample apart


def test_sampler_is_deterministic_for_a_seed():
    policy = build_policy("0.1m", seed=1)
    a = sample(
        policy,
        _prompts(policy.tokenizer),
        max_new_tokens=10,
        generator=torch.Generator().manual_seed(5),
    )
    b = sample(
        policy,
        _prompts(policy.tokenizer),
        max_new_tokens=10,
        generator=torch.Generator().manual_seed(5),
    )
    assert torch.equal(a.response, b.response) and torch.equal(a.logp, b.logp)


def test_rows_stop_at_eos_and_report_truncation():
    policy = build_policy("0.1m", seed=1)
    tok = policy.tokenizer
    with torch.no_grad():  # constant final hidden state aligned with EOS: P(EOS) ~ 1/2
        policy.model.ln_f.weight.zero_()
        policy.model.ln_f.bias.fill_(1.0)
        policy.model.head.weight[tok.eos_id] = 4.6 / policy.model.cfg.d_model
    s = sample(policy, _prompts(tok), max_new_tokens=6, generator=torch.Generator().manual_seed(0))
    for row, m, length, trunc in zip(s.response, s.mask, s.lengths, s.truncated):
        n = int(length)
        assert m[:n].all() and not m[n:].any()
        if not trunc:
            assert row[n - 1] == tok.eos_id and (row[: n - 1] != tok.eos_id).all()
        else:
            assert n == 6
    assert not s.truncated.all() and s.lengths.min() < 6
    # finished rows leave the batch mid-way: what remains must still be exact
    many = sample(
        policy, _prompts(tok) * 8, max_new_tokens=12, generator=torch.Generator().manual_seed(1)
    )
    logp, _, _ = sequence_logp(policy, many)
    assert torch.allclose(logp * many.mask, many.logp, atol=1e-5)
    assert many.lengths.max() > 3 and many.lengths.min() < 3


def test_greedy_is_argmax():
    policy = build_policy("0.1m", seed=2)
    g = torch.Generator().manual_seed(0)
    s = sample(policy, _prompts(policy.tokenizer), max_new_tokens=5, generator=g, temperature=0)
    t = sample(policy, _prompts(policy.tokenizer), max_new_tokens=5, generator=g, temperature=0)
    assert torch.equal(s.response, t.response)


def test_top_p_keeps_the_smallest_nucleus():
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
    assert torch.allclose(_top_p(probs, 0.7), torch.tensor([[0.5, 0.3, 0.0, 0.0]]))
    assert torch.allclose(_top_p(probs, 0.5), torch.tensor([[0.5, 0.0, 0.0, 0.0]]))
    assert torch.equal(_top_p(probs, 1.0), probs)


def test_teacher_forcing_batch_matches_the_sampler_prompt_layout():
    from priorlab.encoding import encode_pairs
    from priorlab.rollout import _prompt_ids

    tok = build_policy("0.1m").tokenizer
    plain = encode_pairs(tok, ["1+2="], ["1+2=3#3"], max_len=32, prefixes=[[]])
    assert plain.prompt[0].tolist() == _prompt_ids(tok, "1+2=", None)
    cond = encode_pairs(tok, ["1+2="], ["1+2=3#3"], max_len=32, prefixes=[[tok.return_ids[1]]])
    assert cond.prompt[0].tolist() == _prompt_ids(tok, "1+2=", [tok.return_ids[1]])
    assert cond.prompt[0, 0] == tok.return_ids[1]
    assert plain.response[0].tolist() == tok.encode("1+2=3#3", bos=False) + [tok.eos_id]
