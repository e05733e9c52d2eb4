"""A nanoGPT-sized decoder-only transformer with a KV cache and an optional value head."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass(frozen=True)
class ModelConfig:
    """Shape of the built-in policy; `SIZES` holds named presets from ~0.1M to ~20M parameters."""

    vocab_size: int = 100
    """Number of token ids (the char tokenizer has 100)."""
    n_layer: int = 4
    """Transformer blocks."""
    n_head: int = 4
    """Attention heads per block; must divide d_model."""
    d_model: int = 128
    """Residual stream width."""
    max_len: int = 128
    """Longest prompt + response, in tokens (learned positions)."""
    value_head: bool = False
    """Add a scalar value head on the last hidden state (PPO's critic)."""

    def to_dict(self) -> dict:
        return asdict(self)


SIZES = {
    "0.1m": dict(n_layer=2, n_head=2, d_model=64),
    "1m": dict(n_layer=4, n_head=4, d_model=128),
    "3m": dict(n_layer=6, n_head=4, d_model=192),
    "6m": dict(n_layer=6, n_head=8, d_model=256),
    "20m": dict(n_layer=8, n_head=8, d_model=448),
}


class KVCache:
    """Preallocated keys and values for every layer: (n_layer, B, nh, S_max, hs)."""

    def __init__(self, cfg: ModelConfig, batch: int, max_len: int, device, dtype):
        hs = cfg.d_model // cfg.n_head
        shape = (cfg.n_layer, batch, cfg.n_head, max_len, hs)
        self.k = torch.empty(shape, device=device, dtype=dtype)
        self.v = torch.empty(shape, device=device, dtype=dtype)
        self.length = 0


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.n_head = cfg.n_head
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.fc = nn.Linear(cfg.d_model, 4 * cfg.d_model)
        self.fc_out = nn.Linear(4 * cfg.d_model, cfg.d_model)

    def forward(self, x, attn_mask, cache: KVCache | None, layer: int):
        B, T, C = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        if cache is not None:  # write this chunk, attend over everything so far
            start = cache.length
            cache.k[layer, :, :, start : start + T] = k
            cache.v[layer, :, :, start : start + T] = v
            k = cache.k[layer, :, :, : start + T]  # (B, nh, S, hs)
            v = cache.v[layer, :, :, : start + T]
        if attn_mask.dtype != torch.bool:  # decode: additive mask, plain softmax beats SDPA
            att = (q * k.shape[-1] ** -0.5) @ k.transpose(-1, -2)  # (B, nh, 1, S)
            y = (att + attn_mask).softmax(-1) @ v  # (B, nh, 1, hs)
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)  # (B, nh, T, hs)
        x = x + self.proj(y.transpose(1, 2).reshape(B, T, C))
        return x + self.fc_out(F.gelu(self.fc(self.ln2(x))))


class TinyGPT(nn.Module):
    """Decoder-only transformer; left-padded batches are handled by `key_valid` and `pos`."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        assert cfg.d_model % cfg.n_head == 0, "n_head must divide d_model"
        self.cfg = cfg
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.pos_emb = nn.Embedding(cfg.max_len, cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        self.value = nn.Linear(cfg.d_model, 1) if cfg.value_head else None
        self.apply(_init_weights)
        for name, p in self.named_parameters():
            if name.endswith(("proj.weight", "fc_out.weight")):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * cfg.n_layer))

    @property
    def has_value_head(self) -> bool:
        return self.value is not None

    def new_cache(self, batch: int, max_len: int) -> KVCache:
        p = self.head.weight
        return KVCache(self.cfg, batch, min(max_len, self.cfg.max_len), p.device, p.dtype)

    def forward(self, tokens, key_valid, cache: KVCache | None = None):
        """Logits (B, T, V) and values (B, T) or None for `tokens` (B, T).

        key_valid: (B, S) bool, which keys are real tokens, S = cache length + T (or T).
        Positions count real tokens only, so left padding does not shift them.
        """
        B, T = tokens.shape
        S = key_valid.shape[1]
        pos = (key_valid.long().cumsum(1) - 1).clamp(min=0)[:, S - T :]  # (B, T)
        x = self.tok_emb(tokens) + self.pos_emb(pos)
        causal = torch.ones(T, S, dtype=torch.bool, device=tokens.device).tril(S - T)
        own = torch.zeros_like(causal)
        own[:, S - T :] = torch.eye(T, dtype=torch.bool, device=tokens.device)
        attn_mask = (causal & key_valid[:, None, :]) | own  # (B, T, S); pads see themselves
        attn_mask = attn_mask[:, None]  # (B, 1, T, S)
        for i, block in enumerate(self.blocks):
            x = block(x, attn_mask, cache, i)
        if cache is not None:
            cache.length += T
        h = self.ln_f(x)
        values = self.value(h).squeeze(-1) if self.value is not None else None
        return self.head(h), values

    def decode_step(self, token, key_valid, cache: KVCache):
        """Logits (B, V) for one new token per row (B,), appended to `cache`."""
        pos = key_valid.long().sum(1, keepdim=True) - 1  # (B, 1)
        x = self.tok_emb(token[:, None]) + self.pos_emb(pos)
        attn_mask = torch.zeros(key_valid.shape, dtype=x.dtype, device=x.device)
        attn_mask = attn_mask.masked_fill_(~key_valid, float("-inf"))[:, None, None]  # (B,1,1,S)
        for i, block in enumerate(self.blocks):
            x = block(x, attn_mask, cache, i)
        cache.length += 1
        return self.head(self.ln_f(x))[:, 0]


def _init_weights(module):
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        nn.init.normal_(module.weight, std=0.02)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
