"""One policy interface for everything above `models/`: a model, its tokenizer, save and load.

The model must offer `forward(tokens, key_valid, cache) -> (logits, values)`,
`decode_step(token, key_valid, cache) -> logits`, `new_cache(batch, max_len)` and
`has_value_head`; the tokenizer `encode`, `decode`, `pad_id`, `eos_id`, `return_token`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from priorlab.errors import PriorlabError
from priorlab.io import atomic_path, atomic_write_text
from priorlab.models.tokenizer import CharTokenizer
from priorlab.models.transformer import SIZES, ModelConfig, TinyGPT

CONFIG_FILE, WEIGHTS_FILE = "config.json", "model.safetensors"


@dataclass
class Policy:
    model: TinyGPT
    tokenizer: CharTokenizer
    meta: dict

    def save(self, path: str | Path) -> None:
        """Write `model.safetensors` and `config.json` atomically into directory `path`
        (a Hugging Face model: its own files under `path/hf`, and the value head)."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        if self.backend == "hf":
            from priorlab.models.hf_io import save_hf

            config = {
                "backend": "hf",
                **save_hf(self.model, self.tokenizer, path),
                "meta": self.meta,
            }
        else:
            weights = {k: v.detach().contiguous().cpu() for k, v in self.model.state_dict().items()}
            with atomic_path(path / WEIGHTS_FILE) as tmp:
                save_file(weights, str(tmp))
            config = {"backend": "tiny", "model": self.model.cfg.to_dict(), "meta": self.meta}
        atomic_write_text(path / CONFIG_FILE, json.dumps(config, indent=2))

    @property
    def backend(self) -> str:
        return "tiny" if isinstance(self.model, TinyGPT) else "hf"

    def init_tokens_like(self, token_ids: list[int], source_id: int) -> None:
        """Set the embeddings of `token_ids` to that of `source_id` (new tokens start neutral)."""
        with torch.no_grad():
            emb = self.model.tok_emb.weight
            emb[token_ids] = emb[source_id].clone()

    def with_value_head(self) -> Policy:
        """A copy of this policy whose model carries a freshly initialised value head."""
        if self.model.has_value_head:
            return self
        if self.backend == "hf":
            return Policy(self.model.with_value_head(), self.tokenizer, dict(self.meta))
        cfg = ModelConfig(**{**self.model.cfg.to_dict(), "value_head": True})
        model = TinyGPT(cfg)
        model.load_state_dict(self.model.state_dict(), strict=False)
        return Policy(model, self.tokenizer, dict(self.meta))


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
    from priorlab.models import hf_io as hf

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
    from priorlab.models import hf_io as hf

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


DAMAGED = "the checkpoint is damaged; pretrain it again, or copy it over whole"


def read_config(file: Path) -> dict:
    """The JSON object in `file` ({} when there is no file); PriorlabError naming the file
    when it is not UTF-8 JSON or not an object (a checkpoint cut short by a full disk)."""
    if not file.is_file():
        return {}
    try:
        config = json.loads(file.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise PriorlabError(f"model: {file} is not UTF-8 text, so not JSON; {DAMAGED}") from None
    except json.JSONDecodeError as e:
        raise PriorlabError(
            f"model: {file} is not valid JSON (line {e.lineno}: {e.msg}); {DAMAGED}"
        ) from None
    if not isinstance(config, dict):
        raise PriorlabError(
            f"model: {file} holds a JSON {type(config).__name__}, expected an object; {DAMAGED}"
        )
    return config


def model_config(config: dict, file: Path) -> ModelConfig:
    """The ModelConfig recorded in a checkpoint's config.json, or PriorlabError naming
    `file` and the fields it accepts."""
    fields = config.get("model")
    accepted = ", ".join(ModelConfig.__dataclass_fields__)
    if not isinstance(fields, dict):
        raise PriorlabError(
            f"model: {file} has no 'model' object (the fields {accepted}); {DAMAGED}"
        )
    try:
        return ModelConfig(**fields)
    except TypeError:
        unknown = sorted(set(fields) - set(ModelConfig.__dataclass_fields__))
        raise PriorlabError(
            f"model: {file}: unknown model field(s) {', '.join(map(repr, unknown))}; "
            f"accepted: {accepted}"
        ) from None


def read_weights(file: Path, expected: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors `file`, checked against the model's `expected` state
    dict; PriorlabError naming the file for a truncated file or a name or shape mismatch."""
    try:
        weights = load_file(str(file))
    except (SafetensorError, OSError) as e:
        raise PriorlabError(
            f"model: {file} is not a readable safetensors file, probably truncated ({e}); {DAMAGED}"
        ) from None
    problems = [
        f"{k} is {tuple(weights[k].shape)}, the config needs {tuple(v.shape)}"
        for k, v in expected.items()
        if k in weights and weights[k].shape != v.shape
    ]
    problems += [f"missing {k}" for k in expected if k not in weights]
    problems += [f"unexpected {k}" for k in weights if k not in expected]
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise PriorlabError(
            f"model: {file} does not match the shapes in {CONFIG_FILE} beside it: "
            f"{'; '.join(problems[:3])}{more}; the two files come from different models"
        )
    return weights
