"""The batch that carries a step's samples from the sampler to the update.

`Samples` is what the sampler returns; `Batch` adds, stage by stage, what every method
shares (rewards, verifier results, advantages, masks, reference log-probs, values) and two
generic slots for what only some methods need (`extras`, `rows`); `cat_batches` joins
batches (dynamic sampling's draws, a role's rows beside the sampled ones).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F


@dataclass
class Samples:
    """What the sampler returns for B prompts; response tensors are (B, T)."""

    prompt: torch.Tensor  # (B, P) left-padded prompt ids
    prompt_mask: torch.Tensor  # (B, P) bool, real prompt tokens
    response: torch.Tensor  # (B, T) sampled ids, pad after EOS
    mask: torch.Tensor  # (B, T) float, 1 on generated tokens (EOS included)
    logp: torch.Tensor  # (B, T) log-prob of each sampled token under the sampling policy
    entropy: torch.Tensor  # (B, T) entropy of the sampling distribution at each step
    lengths: torch.Tensor  # (B,) generated tokens
    truncated: torch.Tensor  # (B,) bool, hit max_new_tokens before EOS


@dataclass
class Batch:
    """One step's samples; each stage fills its fields (rewards, adv, ...). Every optional
    tensor has one row per completion: (B,) or (B, T).

    What only some methods need rides in two generic slots: `extras`, per-row tensors an
    objective's estimator or loss term reads (SDPO's teacher log-probs, Delta-Belief's step
    rewards), sliced and joined like the fields; and `rows`, further rows the same update
    trains (a role's samples, VeriFree's reference rows), which get their advantages in the
    advantage stage."""

    samples: Samples
    problems: list  # (B,) the Problem each row answers
    group_ids: torch.Tensor  # (B,) rows with equal id share a prompt
    texts: list[str]  # (B,) decoded completions
    rewards: torch.Tensor | None = None  # (B,) shaped reward driving training
    correct: torch.Tensor | None = None  # (B,) bool, raw verifier result
    parsed: torch.Tensor | None = None  # (B,) bool, an answer could be extracted
    answers: list = field(default_factory=list)  # (B,) extracted answers
    adv: torch.Tensor | None = None  # (B,) or (B, T)
    ref_logp: torch.Tensor | None = None  # (B, T) the KL reference's log-probs
    values: torch.Tensor | None = None  # (B, T) the critic's values at sampling time
    returns: torch.Tensor | None = None  # (B, T) GAE returns, the critic's targets
    loss_mask: torch.Tensor | None = None  # (B, T) tokens the policy loss counts
    sampler_logp: torch.Tensor | None = None  # (B, T) a separate engine's (vLLM) log-probs
    metrics: dict = field(default_factory=dict)  # what the reward source reports of itself
    extras: dict = field(default_factory=dict)  # name -> (B, ...) an objective's per-row data
    rows: list = field(default_factory=list)  # [Rows] trained alongside, in the same update

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def mask(self) -> torch.Tensor:
        return self.samples.mask

    def select(self, keep: torch.Tensor) -> Batch:
        """The rows where `keep` (B,) is True, every field sliced alike (and the `rows` that
        pair one to one with them)."""
        idx = keep.nonzero().squeeze(1)
        ix = idx.tolist()
        s = self.samples
        samples = Samples(*(getattr(s, f)[idx] for f in s.__dataclass_fields__))
        fields = {
            name: None if getattr(self, name) is None else getattr(self, name)[idx]
            for name in ROW_TENSORS
        }
        return Batch(
            samples,
            [self.problems[i] for i in ix],
            self.group_ids[idx],
            [self.texts[i] for i in ix],
            answers=[self.answers[i] for i in ix] if self.answers else [],
            metrics=self.metrics,
            extras={name: t[idx] for name, t in self.extras.items()},
            rows=[r.select(keep) if r.paired else r for r in self.rows],
            **fields,
        )


@dataclass
class Rows:
    """Rows an objective trains beside the sampled ones, in the same update.

    batch: their samples, with rewards (and a loss mask when not every generated token
    learns); advantage: (rewards (B,), group_ids (B,), loss_mask (B, T)) -> (B,) or (B, T),
    filled in the advantage stage (GRPO for a role's samples; VeriFree's reward-weighted
    likelihood for its reference rows); paired: one row per sampled completion, in order,
    so that filtering the completions filters them too (else the step's rows, kept whole).
    """

    batch: Batch
    advantage: Callable
    paired: bool = False

    def select(self, keep: torch.Tensor) -> Rows:
        return Rows(self.batch.select(keep), self.advantage, self.paired)


# Batch's optional per-row tensors, sliced by select and joined by cat_batches.
ROW_TENSORS = (
    "rewards",
    "correct",
    "parsed",
    "adv",
    "ref_logp",
    "values",
    "returns",
    "loss_mask",
    "sampler_logp",
)


def cat_batches(batches: list[Batch]) -> Batch:
    """Concatenate batches, padding prompts and responses to one width.

    Per-row advantages become per-token when any batch has per-token ones; an optional
    field or extra is kept when every batch has it; each objective's `rows` are joined too.
    """
    if len(batches) == 1:
        return batches[0]
    P = max(b.samples.prompt.shape[1] for b in batches)
    T = max(b.samples.response.shape[1] for b in batches)

    def pad(t, width, left=False, value=0):
        gap = width - t.shape[1]
        return F.pad(t, (gap, 0) if left else (0, gap), value=value) if gap else t

    def cat_rows(ts, width=T):  # width: the second dimension's (T, or an extra's own, e.g. S)
        if any(t.dim() == 3 for t in ts):  # (B, T, V): pad the positions
            return torch.cat([F.pad(t, (0, 0, 0, width - t.shape[1])) for t in ts])
        if any(t.dim() == 2 for t in ts):
            ts = [pad(t[:, None].expand(-1, width) if t.dim() == 1 else t, width) for t in ts]
        return torch.cat(ts)

    def field_(name):
        ts = [getattr(b.samples, name) for b in batches]
        if name in ("prompt", "prompt_mask"):
            return torch.cat([pad(t, P, left=True) for t in ts])
        return cat_rows(ts)

    samples = Samples(*(field_(f) for f in Samples.__dataclass_fields__))

    def cat(ts):  # a field some batch lacks is left out, as it cannot be joined
        return None if any(t is None for t in ts) else cat_rows(ts)

    def cat_extra(ts):  # padded to its own widest, which is T for per-token ones
        return cat_rows(ts, width=max((t.shape[1] for t in ts if t.dim() > 1), default=T))

    offset, group_ids = 0, []
    for b in batches:  # keep groups of different batches apart
        group_ids.append(b.group_ids + offset)
        offset += int(b.group_ids.max()) + 1 if len(b) else 0
    return Batch(
        samples,
        [p for b in batches for p in b.problems],
        torch.cat(group_ids),
        [t for b in batches for t in b.texts],
        answers=[a for b in batches for a in (b.answers or [None] * len(b))],
        metrics={k: v for b in batches for k, v in b.metrics.items()},
        extras={
            name: cat_extra([b.extras[name] for b in batches])
            for name in batches[0].extras
            if all(name in b.extras for b in batches)
        },
        rows=[cat_rows_of(same) for same in zip(*(b.rows for b in batches))],
        **{name: cat([getattr(b, name) for b in batches]) for name in ROW_TENSORS},
    )


def cat_rows_of(same: tuple[Rows, ...]) -> Rows:
    """One objective's rows from several batches, joined."""
    return Rows(cat_batches([r.batch for r in same]), same[0].advantage, same[0].paired)
