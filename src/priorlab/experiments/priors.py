"""A sweep's priors given as models: no pretraining job, the runs train from the model.

    priors:
      - {label: short, steps: 300}                  # pretrained by a prior job, as before
      - {label: smollm2, model: smollm2}            # given: no job
      - {label: mine, model: /path/to/hf_dir}

A given prior's `model` is anything `priorlab train --model` takes (smollm2, a Hugging Face
model directory, a .gguf file, a `priorlab pretrain` directory), resolved at expansion by
the function `load_policy` itself uses (`models.model_source`): a path holding no model is
refused there, naming `priors[i].model`, before any job runs. Pretraining fields beside
`model` are refused: a given model is not pretrained.

Identity: a given prior's id (its runs' `prior_id`, so part of their job ids) hashes the
resolved reference (smollm2, or the absolute path) and the size and modification time of
every file under it (`evals/`, the evaluation cache runs write into a prior's directory, left
out; smollm2: its GGUF file's size, fixed by its package), so a different model written at
the same path gets new runs while an untouched one keeps its results. Hashing config.json
would not do (a fine-tuned model has its base model's config); hashing the weights' bytes
would, but reads gigabytes at every expansion.

What the model can serve: `check_fits` refuses at expansion what a run refuses once it has
loaded a model of that kind, with the message a single `priorlab train` gives: lora_rank,
gradient_checkpointing or engine=vllm on a built-in model, rcrl on a Hugging Face one.
What needs the model itself (its roles, its tokenizer, its context) is checked when the run
starts, as for a pretrained prior (validate.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from priorlab.errors import ConfigError, PriorlabError
from priorlab.experiments.grid import job_id
from priorlab.models import model_source
from priorlab.models.hf import HF_OPTION, NO_RETURN_TOKENS, SMOLLM2
from priorlab.models.hf_io import smollm2_gguf
from priorlab.models.vllm_engine import HF_ONLY

CACHE_DIRS = ("evals",)  # what runs write into a prior's directory (Run.prior_table)
ACCEPTED = "smollm2, a Hugging Face model directory, a .gguf file or a `priorlab pretrain` dir"


@dataclass(frozen=True)
class Given:
    """A prior given as a model: no job makes it; its runs read `model` where it is."""

    id: str  # "m-" + the hash of the reference and its files (see the module docstring)
    labels: dict  # {prior: label}, as a prior job's
    model: str  # the reference as resolved: smollm2, or an absolute path
    builtin: bool  # the built-in model (a `priorlab pretrain` directory), else Hugging Face


def given_prior(label: str, entry: dict, where: str) -> Given:
    """The prior of spec entry `entry` (its fields but the label) at `where` (priors[i]),
    which has a `model`; ConfigError naming `where.model` when nothing loadable is there,
    `where.<field>` for a pretraining field beside it."""
    extra = [k for k in entry if k != "model"]
    if extra:
        raise ConfigError(
            f"{where}.{extra[0]}",
            "a given model is not pretrained: give `model` alone, or pretraining fields "
            "without `model`",
        )
    reference = entry["model"]
    if not isinstance(reference, str) or not reference:
        raise ConfigError(f"{where}.model", f"{ACCEPTED}; got {reference!r}")
    try:
        kind, resolved = model_source(reference)
    except PriorlabError as e:
        raise ConfigError(f"{where}.model", str(e).removeprefix("model: ")) from None
    identity = {"model": resolved, "files": files_of(resolved)}
    builtin = kind == "tiny"  # not "hf" or "saved_hf" (see model_source)
    return Given(job_id("model", identity), {"prior": label}, resolved, builtin)


def files_of(reference: str) -> dict[str, list[int]]:
    """name -> [size, mtime_ns] of each file that makes up the resolved `reference`
    (smollm2: its GGUF file's size alone)."""
    if reference == SMOLLM2:
        gguf = smollm2_gguf()
        return {gguf.name: [gguf.stat().st_size]}
    root = Path(reference)
    found = [root] if root.is_file() else sorted(root.rglob("*"))
    out = {}
    for path in found:
        name = path.name if path == root else path.relative_to(root).as_posix()
        if name.split("/")[0] in CACHE_DIRS or not path.is_file():
            continue
        stat = path.stat()
        out[name] = [stat.st_size, stat.st_mtime_ns]
    return out


def check_fits(cfg, algo, prior) -> None:
    """ConfigError (the field as TrainConfig spells it) when run config `cfg` with algorithm
    `algo` cannot train `prior` (a Given, or a prior job: a built-in model), with the
    message the run gives once it has loaded that kind of model, and the prior's label."""
    hf = isinstance(prior, Given) and not prior.builtin
    error = None
    if not hf and (cfg.lora_rank or cfg.gradient_checkpointing):
        error = ("lora_rank" if cfg.lora_rank else "gradient_checkpointing", HF_OPTION)
    elif not hf and cfg.engine == "vllm":
        error = ("engine", HF_ONLY)
    elif hf and algo.kind == "return_conditioned":
        error = ("algo", NO_RETURN_TOKENS)
    if error:
        raise ConfigError(error[0], f"{error[1]} (prior {prior.labels['prior']!r})")


def carried(config: dict, prior, given: dict[str, str]) -> dict:
    """A run's stored config with the given models put in place of their ids: its own
    (`model`, when its prior is given) and those of a POLAR pool (`reward_params.priors`).
    `given` maps given priors' ids to their models; the job id hashes the ids."""
    if isinstance(prior, Given):
        config = {**config, "model": prior.model}
    params = config.get("reward_params") or {}
    pool = params.get("priors")
    if isinstance(pool, list) and any(p in given for p in pool):
        swapped = [given.get(p, p) for p in pool]
        config = {**config, "reward_params": {**params, "priors": swapped}}
    return config
