"""An outcome reward model (ORM) trained on the policy's own labelled rollouts.

Havrilla et al. 2024 (arXiv 2403.04642) train an ORM on samples of the policy labelled by
the verifier and use it as a reward and for reranking. Here the ORM is a copy of the
policy at the first call with a scalar head; every call first scores the batch (so a
sample's reward never saw its own label), then adds the batch with its verifier labels
to a replay buffer and takes BCE steps on it. Its per-token predictions are dense
step-level scores; the reward is the prediction before EOS, sigmoid(v_T) in (0, 1).
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F

from priorlab.encoding import encode_pairs
from priorlab.rewards.base import RewardIn, RewardOut
from priorlab.rollout import Samples, sequence_logp


class OutcomeRewardModel:
    """The `orm` reward: callable like any reward, holding its model between calls."""

    def __init__(self, *, lr: float = 1e-4, epochs: int = 1, buffer: int = 2048, batch: int = 64):
        self.lr, self.epochs, self.buffer_size, self.batch = lr, epochs, buffer, batch
        self.model = None
        self.opt = None
        self.buffer: list[tuple[Samples, torch.Tensor]] = []

    def __call__(self, given: RewardIn) -> RewardOut:
        samples = given.samples
        if self.model is None:
            self.model = copy.deepcopy(given.policy).with_value_head()
            with torch.no_grad():  # start undecided: sigmoid(0) = 0.5 for every sample
                self.model.model.value.weight.zero_()
                self.model.model.value.bias.zero_()
            params = [p for p in self.model.model.parameters() if p.requires_grad]
            self.opt = torch.optim.AdamW(params, lr=self.lr)
        with torch.no_grad():
            scores = torch.sigmoid(self.final_logit(samples))
        labels = torch.tensor([float(v.correct) for v in given.verdicts])
        self.fit(samples, labels)
        return RewardOut(scores.tolist())

    @torch.no_grad()
    def score_texts(self, problems, completions, tokenizer) -> list[float]:
        """P(correct) for (problem, completion) pairs given as text: rerank@k in evaluation."""
        samples = encode_pairs(
            tokenizer,
            [p.prompt for p in problems],
            list(completions),
            max_len=self.model.model.cfg.max_len,
        )
        # encode_pairs appends EOS: the last response token is EOS, read the state before it
        return torch.sigmoid(self.final_logit(samples)).tolist()

    def step_scores(self, samples: Samples) -> torch.Tensor:
        """Dense per-token scores sigmoid(v_t) (B, T): the ORM's belief after each prefix."""
        values = sequence_logp(self.model, samples, values=True)[2]
        return torch.sigmoid(values) * samples.mask

    def final_logit(self, samples: Samples) -> torch.Tensor:
        """v at the last response token (B,): the logit of P(correct | the whole completion)."""
        values = sequence_logp(self.model, samples, values=True)[2]  # (B, T)
        last = (samples.lengths - 1).clamp(min=0)
        return values[torch.arange(len(last)), last]

    def fit(self, samples: Samples, labels: torch.Tensor) -> float:
        """BCE steps over the replay buffer (newest batches kept); returns the last loss."""
        self.buffer.append((samples, labels))
        while sum(len(y) for _, y in self.buffer) > self.buffer_size and len(self.buffer) > 1:
            self.buffer.pop(0)
        loss = torch.tensor(0.0)
        for _ in range(self.epochs):
            for s, y in self.buffer:
                for idx in torch.arange(len(y)).split(self.batch):
                    mb = _rows(s, idx)
                    loss = F.binary_cross_entropy_with_logits(self.final_logit(mb), y[idx])
                    self.opt.zero_grad(set_to_none=True)
                    loss.backward()
                    self.opt.step()
        return loss.item()


def _rows(s: Samples, idx: torch.Tensor) -> Samples:
    return Samples(*(getattr(s, f)[idx] for f in Samples.__dataclass_fields__))
