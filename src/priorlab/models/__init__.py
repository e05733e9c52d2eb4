"""Policies: the built-in transformer or a Hugging Face model behind one interface
(`PolicyLike`), their tokenizers, and checkpoints."""

from priorlab.models.policy import Policy, build_policy, load_policy, model_source
from priorlab.models.protocol import PolicyLike
from priorlab.models.tokenizer import CharTokenizer
from priorlab.models.transformer import SIZES, ModelConfig, TinyGPT, count_parameters

__all__ = [
    "SIZES",
    "CharTokenizer",
    "ModelConfig",
    "Policy",
    "PolicyLike",
    "TinyGPT",
    "build_policy",
    "count_parameters",
    "load_policy",
    "model_source",
]
