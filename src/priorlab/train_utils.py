"""Pieces shared by pretraining, the online loop and the offline loops."""

from __future__ import annotations

import copy
import functools
import json
import logging
import math
import os
from contextlib import contextmanager
from pathlib import Path

import torch
import torch.nn.functional as F
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from priorlab.algos import AGGREGATIONS, group_stats, losses
from priorlab.config import TrainConfig, check
from priorlab.errors import ConfigError, Diverged
from priorlab.io import atomic_write_text
from priorlab.models.hf import HF_OPTION
from priorlab.rollout import Batch, Samples, left_pad

log = logging.getLogger(__name__)


def encode_pairs(
    tok,
    prompts: list[str],
    completions: list[str],
    *,
    max_len: int,
    prefixes: list[list[int]] | None = None,
) -> Samples:
    """Teacher-forcing batch: left-padded prompts, right-padded completions + EOS.

    Completions are cut so that prompt + completion fits in `max_len` tokens.
    """
    prompt_ids = []
    for i, p in enumerate(prompts):
        ids = tok.encode(p)
        if prefixes is not None and prefixes[i]:
            ids = [*prefixes[i], *ids[1:]]  # as in rollout: the condition replaces BOS
        prompt_ids.append(ids)
    prompt, prompt_mask = left_pad(prompt_ids, tok.pad_id)
    resp = [
        (tok.encode(c, bos=False) + [tok.eos_id])[: max(1, max_len - len(p))]
        for p, c in zip(prompt_ids, completions)
    ]
    T = max(len(r) for r in resp)
    response = torch.full((len(resp), T), tok.pad_id, dtype=torch.long)
    mask = torch.zeros(len(resp), T)
    for i, r in enumerate(resp):
        response[i, : len(r)] = torch.tensor(r)
        mask[i, : len(r)] = 1.0
    zeros = torch.zeros(len(resp), T)
    lengths = mask.sum(1).long()
    return Samples(prompt, prompt_mask, response, mask, zeros, zeros, lengths, lengths < 0)


def lm_loss(
    policy,
    samples: Samples,
    *,
    include_prompt: bool,
    per_token_loss=losses.nll,
    aggregate=losses.token_mean,
) -> torch.Tensor:
    """Cross-entropy on the completion (and on the prompt when include_prompt): the
    per-token loss of the targets' log-probs (nll: -log p) aggregated over the target tokens
    (token_mean by default; an offline algorithm's preset names both, see offline.py)."""
    tokens = torch.cat([samples.prompt, samples.response], 1)  # (B, P+T)
    valid = torch.cat([samples.prompt_mask, samples.mask.bool()], 1)
    logits, _ = policy.model(tokens, valid)
    P = samples.prompt.shape[1]
    target_mask = valid[:, 1:].float()
    if not include_prompt:
        target_mask[:, : P - 1] = 0.0
    logp = -F.cross_entropy(
        logits[:, :-1].reshape(-1, logits.shape[-1]), tokens[:, 1:].reshape(-1), reduction="none"
    ).view_as(target_mask)
    return aggregate(per_token_loss(logp), target_mask)


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


def sft_step(
    policy,
    opt,
    samples: Samples,
    *,
    include_prompt: bool = False,
    max_grad_norm: float = 1.0,
    where: str = "the fine-tuning step",
    parts=None,
) -> float:
    """One cross-entropy step; returns the loss. `parts`: an offline algorithm's bound
    per-token loss and aggregation (algos.Parts; None: token-mean NLL). Diverged (naming
    `where`) on a non-finite loss, gradient or updated weight."""
    bound = (
        {}
        if parts is None
        else dict(per_token_loss=parts.per_token_loss, aggregate=parts.aggregate)
    )
    loss = lm_loss(policy, samples, include_prompt=include_prompt, **bound)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(policy.model.parameters(), max_grad_norm)
    check_finite(loss, norm, where)
    opt.step()
    check_weights(policy.model, where)
    return loss.item()


def check_finite(loss: torch.Tensor, grad_norm: torch.Tensor, where: str) -> None:
    """Raise Diverged before an optimiser step that would write non-finite weights."""
    if not (torch.isfinite(loss) and torch.isfinite(grad_norm)):
        raise Diverged(
            f"{where}: loss {loss.item()}, gradient norm {grad_norm.item()} (not finite): "
            "training diverged; lower the learning rate (lr)"
        )


def check_weights(model, where: str) -> None:
    """Raise Diverged after an optimiser step that wrote non-finite weights (a finite
    gradient times a huge learning rate overflows)."""
    with torch.no_grad():
        bad = [name for name, p in model.named_parameters() if not torch.isfinite(p).all()]
    if bad:
        raise Diverged(
            f"{where}: {len(bad)} weight tensors are not finite after the update ({bad[0]}, "
            "...): training diverged; lower the learning rate (lr)"
        )


@contextmanager
def progress(quiet: bool = False):
    """A rich progress bar (disabled when quiet or not on a terminal)."""
    columns = [
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, disable=quiet, transient=False) as bar:
        yield bar


class MetricsLog:
    """Appends one JSON object per step to `metrics.jsonl` in the run directory, and the
    same scalars to TensorBoard event files in `<run>/tb` when `tensorboard` is set and
    the package is installed (`pip install 'priorlab[tensorboard]'`)."""

    def __init__(self, run_dir: Path, *, tensorboard: bool = False):
        self.path = Path(run_dir) / "metrics.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("")
        self.rows: list[dict] = []
        self.tb = _tensorboard_writer(Path(run_dir) / "tb") if tensorboard else None

    def log(self, row: dict) -> None:
        row = {k: (float(v) if isinstance(v, torch.Tensor) else v) for k, v in row.items()}
        self.rows.append(row)
        with self.path.open("a") as f:
            f.write(json.dumps(finite(row), allow_nan=False) + "\n")
            f.flush()
            os.fsync(f.fileno())
        if self.tb is not None:
            step = int(row.get("samples", row.get("step", 0)))  # x axis: completions consumed
            for key, value in row.items():
                if isinstance(value, (int, float)) and key not in ("step", "samples"):
                    self.tb.add_scalar(key, value, step)
            self.tb.flush()

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


def _tensorboard_writer(log_dir: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # the optional extra is not installed: metrics.jsonl only
        _warn_no_tensorboard()
        return None
    return SummaryWriter(str(log_dir))


@functools.cache  # once per process, not once per run
def _warn_no_tensorboard() -> None:
    log.warning(
        "tensorboard: the tensorboard package is not installed, so no event files are "
        "written (metrics.jsonl has every metric); install the extra "
        "(pip install 'priorlab[tensorboard]') or set tensorboard=false"
    )


def finite(obj):
    """A JSON-ready copy in which NaN and infinities are null: JSON has no NaN, and a bare
    `NaN` token breaks strict readers (jq, browsers, other languages)."""
    if isinstance(obj, dict):
        return {key: finite(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(value) for value in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def write_json_atomic(path: Path, data) -> None:
    """`data` as indented JSON (NaN as null: `finite`), written atomically."""
    atomic_write_text(path, json.dumps(finite(data), indent=2, default=str, allow_nan=False))


def batch_metrics(batch: Batch, group_size: int) -> dict:
    """Reward, true accuracy (apart from the reward), entropy, length, zero-variance groups."""
    s = batch.samples
    _, std, _ = group_stats(batch.rewards, batch.group_ids)
    return {
        "reward/mean": batch.rewards.mean().item(),
        "task/accuracy": batch.correct.float().mean().item(),
        "task/parsed": batch.parsed.float().mean().item(),
        "policy/entropy": AGGREGATIONS["token_mean"](s.entropy, s.mask).item(),
        "response/length": s.lengths.float().mean().item(),
        "response/truncated": s.truncated.float().mean().item(),
        "groups/zero_var_frac": (std == 0).float().mean().item(),
    }


def frozen_copy(policy):
    """A copy of `policy` whose parameters take no gradient: the KL reference."""
    from priorlab.models import Policy

    ref = Policy(copy.deepcopy(policy.model), policy.tokenizer, policy.meta)
    ref.model.requires_grad_(False)
    return ref


def check_overlong_window(algo, cfg: TrainConfig, pool: list, tokenizer) -> None:
    """DAPO's overlong window must start beyond the task's longest gold solution (in sampled
    tokens, EOS included), or it punishes correct answers; ConfigError naming both numbers."""
    longest = max(len(tokenizer.encode(p.solution, bos=False)) + 1 for p in pool)
    free = cfg.max_new_tokens - algo.overlong_cache
    check(
        free >= longest,
        "algo.overlong_cache",
        f"the overlong window starts at max_new_tokens - overlong_cache = {free} tokens, but "
        f"the task's longest gold solution is {longest} tokens: correct answers would be "
        f"punished; set max_new_tokens >= {longest + algo.overlong_cache} or lower overlong_cache",
    )


def adapt(policy, cfg: TrainConfig) -> None:
    """LoRA adapters and gradient checkpointing: options of the Hugging Face backend."""
    if policy.backend != "hf":
        field = "lora_rank" if cfg.lora_rank else "gradient_checkpointing"
        raise ConfigError(field, HF_OPTION)
    if cfg.gradient_checkpointing:
        lm = policy.model.lm  # transformers >= 5.2x renamed it activation checkpointing
        getattr(lm, "activation_checkpointing_enable", lm.gradient_checkpointing_enable)()
    if cfg.lora_rank:
        policy.model.add_lora(cfg.lora_rank, cfg.lora_alpha)
