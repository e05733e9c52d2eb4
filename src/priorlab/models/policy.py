"""The policy: a model, its tokenizer and how it was made; build, load and save.

`Policy` holds either model (the built-in character transformer, or a Hugging Face one)
and is the one place that tells them apart: it answers `protocol.PolicyLike`'s questions
(capabilities, prompt formats) so that nothing above `models/` asks which it holds.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import save_file

from priorlab.errors import ConfigError, PriorlabError
from priorlab.io import atomic_path, atomic_write_text
from priorlab.models import hf_io as hf
from priorlab.models.checkpoint import (
    CONFIG_FILE,
    WEIGHTS_FILE,
    model_config,
    read_config,
    read_weights,
)
from priorlab.models.hf import HF_OPTION, HFModel, HFTokenizer
from priorlab.models.tokenizer import CharTokenizer
from priorlab.models.transformer import SIZES, ModelConfig, TinyGPT


@dataclass
class Policy:
    """A policy (see `protocol.PolicyLike` for what callers may ask of it)."""

    model: TinyGPT | HFModel
    tokenizer: CharTokenizer | HFTokenizer
    meta: dict

    def __post_init__(self) -> None:
        if self.is_builtin:  # RCRL's step return tokens take no position (TinyGPT's `place`)
            self.model.unplaced = tuple(self.tokenizer.return_ids)

    # -- which model, and what it can do --------------------------------------------

    @property
    def backend(self) -> str:
        """ "tiny" or "hf": the name `config.json` records (compare only inside models/)."""
        return "tiny" if isinstance(self.model, TinyGPT) else "hf"

    @property
    def is_builtin(self) -> bool:
        return isinstance(self.model, TinyGPT)

    @property
    def supports_lora(self) -> bool:
        return not self.is_builtin

    @property
    def compact_prompts(self) -> bool:
        return self.is_builtin

    @property
    def role_reply_tokens(self) -> int:
        return 4 if self.is_builtin else 8

    @property
    def device(self) -> torch.device:
        return self.model.head.weight.device

    def can_play(self, role: str) -> bool:
        return not self.is_builtin or role in self.meta.get("pretrain", {}).get("roles", [])

    # -- changing it ----------------------------------------------------------------

    def adapt(self, *, lora_rank: int, lora_alpha: float, gradient_checkpointing: bool) -> None:
        """LoRA adapters and gradient checkpointing: options of a Hugging Face model."""
        if not self.supports_lora:
            field = "lora_rank" if lora_rank else "gradient_checkpointing"
            raise ConfigError(field, HF_OPTION)
        if gradient_checkpointing:
            lm = self.model.lm  # transformers >= 5.2x renamed it activation checkpointing
            getattr(lm, "activation_checkpointing_enable", lm.gradient_checkpointing_enable)()
        if lora_rank:
            self.model.add_lora(lora_rank, lora_alpha)

    def init_tokens_like(self, token_ids: list[int], source_id: int) -> None:
        """Set the embeddings of `token_ids` to that of `source_id` (new tokens start neutral)."""
        with torch.no_grad():
            emb = self.model.tok_emb.weight
            emb[token_ids] = emb[source_id].clone()

    def with_value_head(self) -> Policy:
        """A copy of this policy whose model carries a freshly initialised value head."""
        if self.model.has_value_head:
            return self
        if not self.is_builtin:
            return Policy(self.model.with_value_head(), self.tokenizer, dict(self.meta))
        cfg = ModelConfig(**{**self.model.cfg.to_dict(), "value_head": True})
        model = TinyGPT(cfg)
        model.load_state_dict(self.model.state_dict(), strict=False)
        return Policy(model, self.tokenizer, dict(self.meta))

    def frozen_copy(self) -> Policy:
        """A copy of this policy whose parameters take no gradient: the KL reference."""
        ref = Policy(copy.deepcopy(self.model), self.tokenizer, self.meta)
        ref.model.requires_grad_(False)
        return ref

    def save(self, path: str | Path) -> None:
        """Write `model.safetensors` and `config.json` atomically into directory `path`
        (a Hugging Face model: its own files under `path/hf`, and the value head)."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        if not self.is_builtin:
            config = {
                "backend": "hf",
                **hf.save_hf(self.model, self.tokenizer, path),
                "meta": self.meta,
            }
        else:
            weights = {k: v.detach().contiguous().cpu() for k, v in self.model.state_dict().items()}
            with atomic_path(path / WEIGHTS_FILE) as tmp:
                save_file(weights, str(tmp))
            config = {"backend": "tiny", "model": self.model.cfg.to_dict(), "meta": self.meta}
        atomic_write_text(path / CONFIG_FILE, json.dumps(config, indent=2))


def build_policy(size: str = "1m", *, max_len: int = 128, seed: int = 0, **overrides) -> Policy:
    """A randomly initialised built-in policy of a named size (see `SIZES`)."""
    if size not in SIZES:
        raise PriorlabError(f"model.size: unknown size {size!r}; valid: {', '.join(SIZES)}")
    tok = CharTokenizer()
    cfg = ModelConfig(vocab_size=tok.vocab_size, max_len=max_len, **{**SIZES[size], **overrides})
    torch.manual_seed(seed)
    return Policy(TinyGPT(cfg), tok, {"size": size})


def load_policy(
    path: str | Path, *, device: str = "auto", dtype: str = "float32", chat: bool = True
) -> Policy:
    """Load a policy: a priorlab checkpoint (`Policy.save`), or a Hugging Face model
    directory, GGUF file or `smollm2` (device, dtype and chat apply to those only).
    A missing, foreign or damaged checkpoint is one clear error naming the file."""
    kind = model_source(path)[0]  # what is there, or the error saying nothing loadable is
    if kind == "hf":
        model, tok = hf.load_hf(path, device=device, dtype=dtype, chat=chat)
        return Policy(model, tok, {"source": str(path), "chat": tok.chat})
    path = Path(path)
    config = read_config(path / CONFIG_FILE)
    if kind == "saved_hf":
        model, tok = hf.load_saved(path, config, device=device, dtype=dtype)
        return Policy(model, tok, config.get("meta", {}))
    model = TinyGPT(model_config(config, path / CONFIG_FILE))
    model.load_state_dict(read_weights(path / WEIGHTS_FILE, model.state_dict()))
    return Policy(model, CharTokenizer(), config.get("meta", {}))


def model_source(path: str | Path) -> tuple[str, str]:
    """What `load_policy(path)` loads, found without loading it: (kind, reference). kind is
    "hf" (a Hugging Face directory, a .gguf file or `smollm2`), "saved_hf" (a policy saved
    from one) or "tiny" (a built-in checkpoint); reference is `smollm2` or the path made
    absolute. PriorlabError naming the path when nothing loadable is there."""
    if str(path) == hf.SMOLLM2:
        hf.smollm2_gguf()  # its package is installed
        return "hf", hf.SMOLLM2
    path = Path(path)
    if path.suffix == ".gguf" and not path.is_file():
        raise PriorlabError(f"model: GGUF file not found: {path}")
    if hf.is_hf_source(path):
        return "hf", str(path.resolve())
    if read_config(path / CONFIG_FILE).get("backend") == "hf":
        return "saved_hf", str(path.resolve())
    missing = [f for f in (CONFIG_FILE, WEIGHTS_FILE) if not (path / f).is_file()]
    if missing:
        why = "the path does not exist" if not path.exists() else f"no {' or '.join(missing)}"
        raise PriorlabError(
            f"model: no checkpoint at {path} ({why}; expected {CONFIG_FILE} and {WEIGHTS_FILE} "
            "from `priorlab pretrain`, a Hugging Face model directory, a .gguf file, or smollm2)"
        )
    return "tiny", str(path.resolve())
