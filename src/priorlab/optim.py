"""The optimiser: AdamW over the trainable parameters, a row group for RCRL's return tokens,
linear warm-up."""

from __future__ import annotations

import torch


def make_optimizer(model, lr: float, *, rows: list[int] | None = None, rows_lr: float = 0.0):
    """AdamW over the trainable parameters (all of them, or only LoRA's adapters); with
    `rows`, those rows of the token embedding form their own group at `rows_lr` (RowGroups)."""
    params = [p for p in model.parameters() if p.requires_grad]
    body = torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.95), weight_decay=0.0)
    return RowGroups(body, model.tok_emb.weight, rows, rows_lr) if rows else body


class RowGroups:
    """AdamW with its own learning rate for some rows of an embedding (RCRL's return tokens).

    torch's parameter groups hold whole tensors, so the rows are split off at each step: the
    body's AdamW sees their gradient zeroed (its moments for them stay 0, so it never moves
    them), a second AdamW on a copy of the rows takes that gradient at `rows_lr`, and the
    rows are written back. Gradient clipping happens before, on the whole gradient.
    """

    def __init__(self, body, weight: torch.Tensor, rows: list[int], rows_lr: float):
        self.body, self.weight, self.rows = body, weight, torch.tensor(rows)
        self.copy = torch.nn.Parameter(weight.detach()[self.rows].clone())
        self.own = torch.optim.AdamW([self.copy], lr=rows_lr, betas=(0.9, 0.95), weight_decay=0.0)
        self.param_groups = [*body.param_groups, *self.own.param_groups]

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.body.zero_grad(set_to_none=set_to_none)

    def step(self) -> None:
        grad = self.weight.grad
        self.copy.grad = grad[self.rows].clone()
        grad[self.rows] = 0.0
        self.body.step()
        self.own.step()
        with torch.no_grad():
            self.weight[self.rows] = self.copy


def warm_up(opt, step: int, steps: int) -> None:
    """Linear warm-up: every group's lr at (step + 1) / steps of its base until `steps`."""
    for group in opt.param_groups:
        base = group.setdefault("base_lr", group["lr"])
        group["lr"] = base * min(1.0, (step + 1) / steps) if steps else base
