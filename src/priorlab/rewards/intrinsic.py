"""Verifier-free rewards: the policy's own votes and certainty, and the probe of its belief
in the reference answer that VeriFree (rewards/verifree.py) and Delta-Belief read.

Each is a plain function of the scored batch (RewardIn); they read the sampled batch
(`group_ids`, `samples`) and the current `policy`, never the verifier's verdict on
correctness (only the extracted answers).
"""

from __future__ import annotations

import math
from collections import Counter

import torch
import torch.nn.functional as F

from priorlab.encoding import encode_pairs
from priorlab.rewards.base import RewardIn, RewardOut
from priorlab.rollout import sequence_logp


def majority_vote(given: RewardIn) -> RewardOut:
    """TTRL pseudo-labels: 1 when a completion's answer is its group's most common answer.

    r_i = 1[a_i = mode{a_j : j in group(i), a_j parsed}]; a tie goes to the answer seen
    first; unparsed answers get 0. Zuo et al. 2025, "TTRL" (arXiv 2504.16084).
    """
    answers = [v.answer if v.parsed else None for v in given.verdicts]
    groups: dict[int, list[int]] = {}
    for i, g in enumerate(given.group_ids.tolist()):
        groups.setdefault(g, []).append(i)
    out = [0.0] * len(answers)
    for rows in groups.values():
        votes = Counter(answers[i] for i in rows if answers[i] is not None)
        if not votes:
            continue
        best = max(votes.values())
        label = next(answers[i] for i in rows if votes.get(answers[i]) == best)
        for i in rows:
            out[i] = float(answers[i] == label)
    return RewardOut(out)


@torch.no_grad()
def self_certainty(given: RewardIn) -> RewardOut:
    """INTUITOR's self-certainty: mean over response tokens of KL(U || p(. | q, o_<i)).

    SC = -1/(|o| V) sum_i sum_j log(V p(j | q, o_<i)), shapes (B,); 0 for a uniform
    policy, larger when confident. Zhao et al. 2025 (arXiv 2505.19590).
    """
    samples, policy = given.samples, given.policy
    tokens = torch.cat([samples.prompt, samples.response], 1)  # (B, P+T)
    key_valid = torch.cat([samples.prompt_mask, samples.mask.bool()], 1)
    P, T = samples.prompt.shape[1], samples.response.shape[1]
    logits, _ = policy.model(tokens, key_valid)
    logprobs = F.log_softmax(logits[:, P - 1 : P - 1 + T].float(), -1)  # (B, T, V)
    V = logprobs.shape[-1]
    per_token = -(logprobs.mean(-1) + math.log(V))  # (B, T)
    mask = samples.mask
    sc = (per_token * mask).sum(1) / mask.sum(1).clamp(min=1)
    return RewardOut(sc.tolist())


def split_answer(text: str) -> tuple[str, str]:
    """(reasoning, answer part) at the last run of '#': "3+4=7#7" -> ("3+4=7", "#7");
    no marker: the whole text is reasoning and the answer part is empty."""
    end = text.rfind("#")
    if end < 0:
        return text, ""
    start = end
    while start > 0 and text[start - 1] == "#":
        start -= 1
    return text[:start], text[start:]


@torch.no_grad()
def answer_logp(policy, problems, reasonings: list[str], chunk: int = 16) -> list[float]:
    """log pi(y* | q, z) for each (problem, reasoning z): y* is the gold solution's answer
    part (after its '#' marker) followed by EOS; `chunk` rows per forward pass."""
    tok, out = policy.tokenizer, []
    for lo in range(0, len(problems), chunk):
        ps, zs = problems[lo : lo + chunk], reasonings[lo : lo + chunk]
        refs = [split_answer(p.solution)[1] for p in ps]
        batch = encode_pairs(
            tok,
            [p.prompt for p in ps],
            [z + ref for z, ref in zip(zs, refs)],
            max_len=policy.model.cfg.max_len,
        )
        logp = sequence_logp(policy, batch)[0]  # (b, T)
        for i, ref in enumerate(refs):
            n_ref = len(tok.encode(ref, bos=False)) + 1  # the answer's tokens and EOS
            end = int(batch.lengths[i])
            out.append(float(logp[i, max(0, end - n_ref) : end].sum()))
    return out
