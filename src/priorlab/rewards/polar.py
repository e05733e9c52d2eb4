"""POLAR: a reward model that scores a completion by its closeness to a reference.

Dou et al. 2025, "Pre-Trained Policy Discriminators are General Reward Models" (POLAR,
arXiv 2507.05197): a reward model r(x, y_ref, y) is pretrained with a Bradley-Terry loss to
score a candidate y higher when it comes from the same policy as the reference y_ref than
when it comes from a different policy; in RL the reference is the gold answer, so the
reward is r(prompt, gold solution, completion).

Here, with the choices the paper leaves open (or that priorlab's scale forces) stated:

- The RM is a cross-encoder: one sequence "prompt SEP reference SEP candidate" (SEP is
  "|" for the built-in char models; a Hugging Face policy reads "Question: ...\\n
  Reference: ...\\nCandidate:" with the candidate as the answer), scored by a scalar head
  on the hidden state after the candidate's last token. For the built-in backend it is a
  fresh small transformer (`rm_size`, 3x the policy's context); for Hugging Face, a copy
  of the policy with a value head (as the ORM).
- The policy pool (`pool`, polar_pool.py). "temperatures", the default: one prior at two
  temperatures (adaptation, unconfirmed): reference and positive are two samples at
  `temperatures[0]` (the "same policy"), the negative one sample at `temperatures[1]`
  (the "different policy"), from the prior as it is at the first call. "priors": the
  paper's design on priorlab's scale, several checkpoints (`priors`, e.g. priors of
  dialled strength), the reference and positive from one, the negative from another,
  the pair drawn per problem with the run's seeded generator (rule in polar_pool.py).
- The RM is fitted once, at the first call, on `problems` train problems of the run's
  task, then frozen. Like pretraining, its samples are not counted in the run's rollout
  budget. They are as long as the first scored batch is wide (the run's length limit).
- The reward is the raw score r (no sigmoid): GRPO normalises it per group anyway.
- Logged every step: the fit's `loss/polar_bt` and `polar/pair_acc` (r+ > r- over its last
  quarter of training minibatches), `polar/heldout_acc` (the same on fresh triplets of
  dev-split problems, half as many as the fit's, at most 64, drawn from the same pool
  after the fit, so the RM is that of a fit without them), and the pool used:
  `polar/pool` ("temperatures" or "priors") and `polar/pool_size` (models in it: 1 for
  "temperatures").
- The RM is held as `rm`, not `model`: training does not rerank evaluation samples with
  it, since at test time it would read the gold solution.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F

from priorlab.encoding import encode_pairs
from priorlab.models import Policy, build_policy
from priorlab.rewards.base import RewardIn, RewardOut
from priorlab.rewards.polar_pool import check_paths, check_pool, pool_triplets
from priorlab.rollout import Samples, rollout, sequence_logp
from priorlab.tasks.base import up_to

BUILTIN_LR, HF_LR = 1e-3, 1e-5  # a fresh small model / a copy of a pretrained one
BUILTIN_SIZES = {"temperatures": (64, 50, 16), "priors": (256, 300, 32)}  # by pool (see Polar)
HF_SIZES = (16, 8, 4)  # (problems, steps, batch) whatever the pool


def bradley_terry_loss(pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    """Mean of -log sigmoid(r+ - r-) over pairs; pos and neg are scores (B,).

    The preference loss of reward models (Bradley & Terry 1952; POLAR's pretraining
    objective, arXiv 2507.05197): 0 when r+ >> r-, log 2 when they tie.
    """
    return F.softplus(neg - pos).mean()


def triplet_prompt(prompt: str, reference: str, *, compact: bool) -> str:
    """What the RM reads before the candidate: "x|y_ref|" for the built-in char models
    (`compact`), a labelled layout for a Hugging Face model (its chat template wraps it)."""
    if compact:
        return f"{prompt}|{reference}|"
    return f"Question: {prompt}\nReference: {reference}\nCandidate:\n"


def encode_triplets(rm: Policy, prompts, references, candidates) -> Samples:
    """Teacher-forcing batch of B triplets, the candidate as the completion (+ EOS), on the
    RM's device; candidates are cut to fit the RM's context."""
    texts = [
        triplet_prompt(x, ref, compact=rm.compact_prompts) for x, ref in zip(prompts, references)
    ]
    batch = encode_pairs(rm.tokenizer, texts, list(candidates), max_len=rm.model.cfg.max_len)
    device = rm.device
    return Samples(*(getattr(batch, f).to(device) for f in Samples.__dataclass_fields__))


def score(rm: Policy, batch: Samples) -> torch.Tensor:
    """r(x, y_ref, y) (B,): the value head on the state after the candidate's last token
    (read before EOS, as the ORM does)."""
    values = sequence_logp(rm, batch, values=True)[2]  # (B, T)
    last = (batch.lengths - 1).clamp(min=0)
    return values[torch.arange(len(last), device=values.device), last]


def preference_triplets(
    policy: Policy,
    problems: list,
    *,
    temperatures: tuple[float, float],
    max_new_tokens: int,
    generator: torch.Generator,
) -> dict[str, list[str]]:
    """POLAR's pretraining data: per problem, a reference and a positive sampled at the low
    temperature (the same policy) and a negative at the high one (a different policy).
    Returns lists of texts: prompt, reference, positive, negative (one entry per problem)."""
    low, high = temperatures
    kw = dict(max_new_tokens=max_new_tokens, generator=generator)
    same = rollout(policy, problems, group_size=2, temperature=low, **kw).texts
    other = rollout(policy, problems, group_size=1, temperature=high, **kw).texts
    return {
        "prompt": [p.prompt for p in problems],
        "reference": same[0::2],
        "positive": same[1::2],
        "negative": other,
    }


def pair_accuracy(rm: Policy, data: dict) -> float:
    """Fraction of triplets with r(x, y_ref, y+) > r(x, y_ref, y-), scored in chunks of 64."""
    wins = []
    with torch.no_grad():
        for i in range(0, len(data["prompt"]), 64):
            part = {k: data[k][i : i + 64] for k in ("prompt", "reference", "positive", "negative")}
            pos, neg = (
                score(rm, encode_triplets(rm, part["prompt"], part["reference"], part[key]))
                for key in ("positive", "negative")
            )
            wins += (pos > neg).tolist()
    return sum(wins) / max(1, len(wins))


def fit(
    rm: Policy, data: dict, *, steps: int, batch: int, lr: float, generator: torch.Generator
) -> dict[str, float]:
    """Bradley-Terry steps (AdamW) on random minibatches of `batch` pairs; returns the
    mean loss and pair accuracy (r+ > r-) over the last quarter of the steps."""
    opt = torch.optim.AdamW([p for p in rm.model.parameters() if p.requires_grad], lr=lr)
    rm.model.train()
    n, losses, accs = len(data["prompt"]), [], []
    for _ in range(steps):
        idx = torch.randint(n, (batch,), generator=generator).tolist()
        pick = lambda key: [data[key][i] for i in idx]  # noqa: E731
        both = encode_triplets(  # positives then negatives, one forward pass
            rm, pick("prompt") * 2, pick("reference") * 2, pick("positive") + pick("negative")
        )
        pos, neg = score(rm, both).split(batch)
        loss = bradley_terry_loss(pos, neg)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        accs.append((pos > neg).float().mean().item())
    tail = max(1, steps // 4)
    return {"loss/polar_bt": sum(losses[-tail:]) / tail, "polar/pair_acc": sum(accs[-tail:]) / tail}


def check_files(*, priors=(), **_) -> None:
    """ConfigError naming reward_params.priors[i] when a checkpoint of the pool is missing
    (the "temperatures" pool reads none); `validate_run` calls it before any model loads."""
    check_paths(priors)


class Polar:
    """POLAR: a reward model r(prompt, gold solution, completion), policy-discriminative.

    Pretrained at the first call to discriminate the prior's policies, then frozen.

    problems: train problems sampled for its triplets (64, 256 for a pool of priors: one
        triplet each).
    steps, batch: Bradley-Terry steps of `batch` pairs (50 x 16: ~1.5 s CPU for a 0.1M
        RM; held-out pair accuracy ~0.9 on the tiny arith prior, untrained ~0.4).
        A Hugging Face RM is the policy's size: 16 problems and 8 steps of 4 pairs by
        default there (our choice, to keep a CPU run in minutes). The built-in pool of
        priors defaults to 256 problems and 300 steps of 32 pairs (~9 s CPU): its RM must
        compare candidate and reference, whichever policy wrote the reference, not just
        tell one temperature from the other; held-out pair accuracy on a 200- vs a
        20-step prior 0.55 at the temperatures' 64 x 50 x 16, 0.93 at 256 x 300 x 32.
    temperatures: (same policy, different policy), (0.5, 1.5) (unconfirmed); the
        "temperatures" pool only.
    rm_size: the built-in RM's size, "0.1m" whatever the policy's (built-in backend only).
    pool: "temperatures" (default: the run's prior at two temperatures) or "priors" (the
        paper's pool of different policies: the checkpoints in `priors`).
    priors: with pool "priors", two or more checkpoints (`priorlab pretrain` directories,
        Hugging Face directories, .gguf files, smollm2); in a sweep, labels of its priors
        (all of them when left out). Missing paths: ConfigError naming reward_params.priors.
    """

    def __init__(
        self,
        *,
        problems: int | None = None,
        steps: int | None = None,
        batch: int | None = None,
        temperatures: tuple[float, float] = (0.5, 1.5),
        rm_size: str = "0.1m",
        pool: str = "temperatures",
        priors: tuple[str, ...] = (),
    ):
        self.sizes = (problems, steps, batch)  # None: the backend's default
        self.temperatures, self.rm_size = temperatures, rm_size
        self.pool, self.priors = pool, check_pool(pool, priors)
        self.rm: Policy | None = None
        self.stats: dict = {}  # the fit's BT loss and pair accuracies, the pool's name

    def __call__(self, given: RewardIn) -> RewardOut:
        problems, completions = given.problems, given.completions
        if self.rm is None:
            self.pretrain(
                given.policy,
                given.task,
                seed=given.rng.getrandbits(63),
                max_new_tokens=given.samples.response.shape[1],
            )
        refs = [p.solution for p in problems]
        out = []
        with torch.no_grad():
            for i in range(0, len(problems), 64):
                chunk = slice(i, i + 64)
                batch = encode_triplets(
                    self.rm, [p.prompt for p in problems[chunk]], refs[chunk], completions[chunk]
                )
                out += score(self.rm, batch).float().tolist()
        return RewardOut(out, metrics=self.stats)

    def triplets(self, policy: Policy, problems: list, *, max_new_tokens: int, gen) -> dict:
        """Triplets of `problems` from the pool: the prior at two temperatures, or the
        checkpoints in `priors` (polar_pool.pool_triplets)."""
        kw = dict(max_new_tokens=max_new_tokens, generator=gen)
        if self.pool == "priors":
            return pool_triplets(self.priors, problems, like=policy, **kw)
        return preference_triplets(policy, problems, temperatures=self.temperatures, **kw)

    def pretrain(self, policy: Policy, task, *, seed: int, max_new_tokens: int) -> None:
        """Build the RM, sample its triplets from `policy` on train problems, fit, freeze."""
        gen = torch.Generator().manual_seed(seed)
        with torch.random.fork_rng():  # build_policy seeds torch's global stream: keep it
            if policy.is_builtin:  # a fresh small model: the char models learn fast
                max_len = 3 * policy.model.cfg.max_len
                rm = build_policy(self.rm_size, max_len=max_len, seed=seed).with_value_head()
            else:
                rm = copy.deepcopy(policy).with_value_head()
        rm.model.to(policy.device)
        default = BUILTIN_SIZES[self.pool] if policy.is_builtin else HF_SIZES
        lr = BUILTIN_LR if policy.is_builtin else HF_LR
        n_problems, steps, batch = (x if x is not None else d for x, d in zip(self.sizes, default))
        check_paths(self.priors)  # none for the temperatures pool
        problems = task.problems("train", n_problems, seed=seed % 2**31)
        data = self.triplets(policy, problems, max_new_tokens=max_new_tokens, gen=gen)
        self.stats = fit(rm, data, steps=steps, batch=batch, lr=lr, generator=gen)
        rm.model.eval().requires_grad_(False)
        self.rm = rm
        held_out = up_to(task, "dev", min(64, max(4, n_problems // 2)), seed=seed % 2**31)
        held = self.triplets(policy, held_out, max_new_tokens=max_new_tokens, gen=gen)
        self.stats |= {
            "polar/heldout_acc": pair_accuracy(rm, held),
            "polar/pool": self.pool,
            "polar/pool_size": float(len(self.priors) or 1),
        }
