"""Reading a checkpoint's files: config.json and safetensors weights, each checked so a
damaged or foreign file is one clear error naming it. Shared by both kinds of policy
(`policy.py` for the built-in model, `hf_io.py` for a Hugging Face one's value head)."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from priorlab.errors import PriorlabError
from priorlab.models.transformer import ModelConfig

CONFIG_FILE, WEIGHTS_FILE = "config.json", "model.safetensors"

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
