"""Policies: the built-in transformer, its tokenizer, and safetensors checkpoints."""

from priorlab.models.policy import Policy, build_policy, load_policy, model_source
from priorlab.models.tokenizer import CharTokenizer
from priorlab.models.transformer import SIZES, ModelConfig, TinyGPT, count_parameters

__all__ = [
    "SIZES",
    "CharTokenizer",
    "ModelConfig",
    "Policy",
    "TinyGPT",
    "build_policy",
    "count_parameters",
    "load_policy",
    "model_source",
]
