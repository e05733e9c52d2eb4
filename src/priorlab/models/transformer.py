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
        self.placed: torch.Tensor | None = None  # (B,) tokens that took a position so far

    def select(self, keep: torch.Tensor) -> None:
        """Keep rows `keep` (B',) of the batch, in that order (repeats copy a row).

        Only the filled positions are copied into the new buffers.
        """
        self.k = select_rows(self.k, keep, self.length)
        self.v = select_rows(self.v, keep, self.length)
        if self.placed is not None:
            self.placed = self.placed[keep]


def place(tokens, key_valid, placed, unplaced: tuple[int, ...]):
    """Positions (B, T) of `tokens`, the newest T of the S keys `key_valid` (B, S) marks as
    real, and the count of placed tokens after them (B,), given the count before them
    `placed` (B,) (None: every earlier real key took a position).

    Only real tokens take a position, so left padding shifts nothing; and so do not the
    `unplaced` ids after a row's first token (RCRL's per-step return tokens): such a token
    sits at the position of the token before it and conditions what follows without moving
    it, so a step-labelled completion keeps the prior's positions. A row's first token,
    where a return token stands for BOS, takes position 0."""
    T = tokens.shape[1]
    earlier, valid = key_valid[:, : key_valid.shape[1] - T], key_valid[:, key_valid.shape[1] - T :]
    before = earlier.sum(1, dtype=torch.long) if placed is None else placed
    takes = valid
    if unplaced:
        first = valid & (before[:, None] + valid.long().cumsum(1) == 1)
        ids = torch.tensor(unplaced, device=tokens.device)
        takes = valid & (first | ~torch.isin(tokens, ids))
    counts = before[:, None] + takes.long().cumsum(1)  # (B, T)
    return (counts - 1).clamp(min=0), counts[:, -1]


def select_rows(buffer: torch.Tensor, keep: torch.Tensor, filled: int) -> torch.Tensor:
    """A new (L, B', nh, S_max, hs) cache buffer holding rows `keep` of `buffer`'s first
    `filled` positions; the rest is left unset, to be written by later decode steps."""
    out = buffer.new_empty((buffer.shape[0], len(keep), *buffer.shape[2:]))
    out[:, :, :, :filled] = buffer[:, keep, :, :filled]
    return out


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
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)  # (B, nh, T, hs)
        x = x + self.proj(y.transpose(1, 2).reshape(B, T, C))
        return x + self.fc_out(F.gelu(self.fc(self.ln2(x))))


class TinyGPT(nn.Module):
    """Decoder-only transformer; left-padded batches are handled by `key_valid` and `pos`."""

    unplaced: tuple[int, ...] = ()  # ids that take no position inside a row (see `place`)

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

    def forward(self, tokens, key_valid, cache: KVCache | None = None, last: int | None = None):
        """Logits (B, T, V) and values (B, T) or None for `tokens` (B, T).

        key_valid: (B, S) bool, which keys are real tokens, S = cache length + T (or T).
        Positions count placed tokens only (`place`), so left padding does not shift them.
        `last`: only the last positions get logits and values (B, last, V), saving the output
        layer.
        """
        B, T = tokens.shape
        S = key_valid.shape[1]
        before = cache.placed if cache is not None else None
        pos, placed = place(tokens, key_valid, before, self.unplaced)
        if cache is not None:
            cache.placed = placed
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
        h = self.ln_f(x if last is None else x[:, -last:])
        values = self.value(h).squeeze(-1) if self.value is not None else None
        return self.head(h), values

    def decode_step(self, token, key_valid, cache: KVCache):
        """Logits (B, V) for one new token per row (B,), appended to `cache`.

        The hot path of sampling: the same computation as `forward` for T = 1, written
        with functional calls and an additive mask to keep per-token overhead low.
        """
        B, C, nh = token.shape[0], self.cfg.d_model, self.cfg.n_head
        hs, t = C // nh, cache.length
        pos, cache.placed = place(token[:, None], key_valid, cache.placed, self.unplaced)
        pos = pos[:, 0]  # (B,)
        x = F.embedding(token, self.tok_emb.weight) + F.embedding(pos, self.pos_emb.weight)
        bias = torch.zeros(key_valid.shape, dtype=x.dtype).masked_fill_(~key_valid, -torch.inf)
        bias = bias[:, None, None, :]  # (B, 1, 1, S)
        scale = hs**-0.5
        for i, blk in enumerate(self.blocks):
            h = F.layer_norm(x, (C,), blk.ln1.weight, blk.ln1.bias)
            qkv = F.linear(h, blk.qkv.weight, blk.qkv.bias).view(B, 3, nh, hs)
            cache.k[i, :, :, t] = qkv[:, 1]
            cache.v[i, :, :, t] = qkv[:, 2]
            q = qkv[:, 0, :, None, :] * scale  # (B, nh, 1, hs)
            att = (q @ cache.k[i, :, :, : t + 1].transpose(-1, -2) + bias).softmax(-1)
            y = (att @ cache.v[i, :, :, : t + 1]).view(B, C)  # (B, nh, 1, hs) -> (B, C)
            x = x + F.linear(y, blk.proj.weight, blk.proj.bias)
            h = F.layer_norm(x, (C,), blk.ln2.weight, blk.ln2.bias)
            h = F.gelu(F.linear(h, blk.fc.weight, blk.fc.bias))
            x = x + F.linear(h, blk.fc_out.weight, blk.fc_out.bias)
        cache.length += 1
        x = F.layer_norm(x, (C,), self.ln_f.weight, self.ln_f.bias)
        return F.linear(x, self.head.weight)


def _init_weights(module):
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        nn.init.normal_(module.weight, std=0.02)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
