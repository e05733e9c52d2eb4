"""What everything above `models/` may ask of a policy, whichever model it holds.

The built-in character transformer and a Hugging Face model both satisfy `PolicyLike`
(`models.Policy` is the one class that does): code outside `models/` asks the policy its
capabilities and formats rather than which backend it is. The model itself offers
`forward(tokens, key_valid, cache) -> (logits, values)`, `decode_step(token, key_valid,
cache) -> logits`, `new_cache(batch, max_len)` and `has_value_head`; the tokenizer
`encode`, `decode`, `pad_id`, `eos_id`, `return_token`. Sampling and log-probs go through
`rollout`, which only uses those: `rollout` (or a separate engine), and one forward pass
for log-probs, `next_token_logprobs` (the full vocabulary, (B, T, V)), of which
`sequence_logp` picks the sampled tokens.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch


@runtime_checkable
class PolicyLike(Protocol):
    model: Any  # TinyGPT or HFModel (see the module docstring for what it offers)
    tokenizer: Any  # CharTokenizer or HFTokenizer
    meta: dict  # how it was made: size, source, pretraining settings (its roles)

    @property
    def is_builtin(self) -> bool:
        """The built-in character model: trained from scratch here, a small context, no
        natural language; its prior cache and fresh reward models are cheap."""
        ...

    @property
    def supports_lora(self) -> bool:
        """LoRA adapters, gradient checkpointing and the vllm engine apply (Hugging Face)."""
        ...

    @property
    def compact_prompts(self) -> bool:
        """Role and reward-model prompts in the built-in one-line formats ("J|q|a|b|"),
        not in plain words."""
        ...

    @property
    def role_reply_tokens(self) -> int:
        """Tokens a judge or critic may reply with ("1", "2" or "tie", then EOS)."""
        ...

    @property
    def device(self) -> torch.device:
        """Where the model's weights are."""
        ...

    def can_play(self, role: str) -> bool:
        """Whether the policy can be asked to play `role` (judge, critic, hint): a built-in
        one only when its pretraining taught it, a Hugging Face one always (in words)."""
        ...

    def adapt(self, *, lora_rank: int, lora_alpha: float, gradient_checkpointing: bool) -> None:
        """Add LoRA adapters and/or turn on gradient checkpointing; ConfigError naming the
        field on a model that supports neither."""
        ...

    def with_value_head(self) -> PolicyLike:
        """This policy, or a copy of it whose model carries a fresh value head."""
        ...

    def frozen_copy(self) -> PolicyLike:
        """A copy whose parameters take no gradient (a KL reference)."""
        ...

    def init_tokens_like(self, token_ids: list[int], source_id: int) -> None:
        """Set the embeddings of `token_ids` to that of `source_id`."""
        ...

    def save(self, path: str | Path) -> None:
        """Write the policy into directory `path`; `load_policy(path)` reads it back."""
        ...
