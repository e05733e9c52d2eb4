"""Both kinds of policy satisfy the one interface, and answer its questions for their kind."""

import pytest
import torch

from priorlab.errors import ConfigError
from priorlab.models import PolicyLike, build_policy, load_policy
from priorlab.models.hf import HF_OPTION
from priorlab.models.protocol import PolicyLike as Declared

QUESTIONS = ("is_builtin", "supports_lora", "compact_prompts", "role_reply_tokens", "device")
METHODS = ("can_play", "adapt", "with_value_head", "frozen_copy", "init_tokens_like", "save")


def satisfies(policy) -> None:
    assert isinstance(policy, PolicyLike)
    for name in (*QUESTIONS, *METHODS):
        assert hasattr(policy, name), name
    declared = {n for n in vars(Declared) if not n.startswith("_")}
    assert declared >= set(QUESTIONS) | set(METHODS)
    assert declared <= set(dir(policy)) | {"model", "tokenizer", "meta"}


def test_the_builtin_policy_satisfies_the_interface():
    policy = build_policy("0.1m")
    satisfies(policy)
    assert policy.is_builtin and policy.compact_prompts and not policy.supports_lora
    assert policy.role_reply_tokens == 4 and policy.device == torch.device("cpu")
    assert not policy.can_play("judge")
    policy.meta["pretrain"] = {"roles": ["judge"]}
    assert policy.can_play("judge") and not policy.can_play("hint")
    ref = policy.frozen_copy()
    assert not any(p.requires_grad for p in ref.model.parameters())
    assert all(p.requires_grad for p in policy.model.parameters())
    satisfies(policy.with_value_head())


def test_a_hugging_face_policy_satisfies_the_interface(tiny_llama):
    policy = load_policy(tiny_llama, device="cpu")
    satisfies(policy)
    assert not policy.is_builtin and not policy.compact_prompts and policy.supports_lora
    assert policy.role_reply_tokens == 8
    assert all(policy.can_play(r) for r in ("judge", "critic", "hint"))
    satisfies(policy.frozen_copy())


def test_adapting_a_builtin_policy_names_the_field():
    policy = build_policy("0.1m")
    for field, kw in (("lora_rank", {"lora_rank": 8}), ("gradient_checkpointing", {})):
        with pytest.raises(ConfigError) as err:
            policy.adapt(
                lora_rank=kw.get("lora_rank", 0), lora_alpha=16.0, gradient_checkpointing=not kw
            )
        assert err.value.field == field and err.value.message == HF_OPTION
