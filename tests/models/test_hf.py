"""The Hugging Face backend behind the same policy interface (tiny local Llama, no hub)."""

import pytest
import torch

from priorlab.errors import PriorlabError
from priorlab.models import load_policy
from priorlab.rollout import rollout, sequence_logp
from priorlab.tasks import make_task


def test_loads_a_local_model_directory_with_its_chat_template(tiny_llama):
    policy = load_policy(tiny_llama, device="cpu")
    assert policy.backend == "hf" and policy.tokenizer.chat
    ids = policy.tokenizer.encode("3+4=")
    assert policy.tokenizer.tok.decode(ids) == "<|user|>3+4=<|assistant|>"
    assert policy.tokenizer.decode([*policy.tokenizer.tok("7#7")["input_ids"], 2, 5]) == "7#7"


def test_sampler_logp_matches_teacher_forcing_with_left_padding(tiny_llama):
    policy = load_policy(tiny_llama, device="cpu", chat=False)
    task = make_task("arith", steps=2, ops=["+", "-"])
    problems = task.problems("test", 4, seed=0) + make_task("arith", steps=3).problems(
        "test", 2, seed=0
    )  # prompts of different lengths: left padding
    gen = torch.Generator().manual_seed(0)
    batch = rollout(policy, problems, group_size=2, max_new_tokens=12, generator=gen)
    s = batch.samples
    assert s.prompt_mask.sum(1).unique().numel() > 1
    logp, entropy, _ = sequence_logp(policy, s)
    m = s.mask.bool()
    assert torch.allclose(logp[m], s.logp[m], atol=1e-4)
    assert torch.allclose(entropy[m], s.entropy[m], atol=1e-4)


def test_rows_that_finish_early_leave_the_cache_without_changing_the_others(tiny_llama):
    policy = load_policy(tiny_llama, device="cpu", chat=False)
    lm = policy.model.lm
    with torch.no_grad():  # make EOS likely so rows stop at different times
        lm.lm_head.weight[2] += 0.6 * lm.model.embed_tokens.weight.mean(0)
    problems = make_task("arith", steps=2).problems("test", 32, seed=1)  # 128 rows
    batch = rollout(
        policy,
        problems,
        group_size=4,
        max_new_tokens=16,
        generator=torch.Generator().manual_seed(3),
    )
    s = batch.samples
    assert s.lengths.unique().numel() > 2
    logp = sequence_logp(policy, s)[0]
    assert torch.allclose(logp[s.mask.bool()], s.logp[s.mask.bool()], atol=1e-4)


@pytest.mark.parametrize("algo, lora", [("grpo", 0), ("ppo", 0), ("ei", 0), ("grpo", 4)])
def test_training_runs_and_saves_safetensors(tiny_llama, tmp_path, algo, lora):
    from priorlab.config import TrainConfig
    from priorlab.train import train

    cfg = TrainConfig(
        model=str(tiny_llama),
        out=str(tmp_path / algo),
        algo=algo,
        task_params={"steps": 2, "ops": ["+", "-"]},
        reward="random",
        rollout_budget=32,
        prompts_per_step=4,
        group_size=4,
        max_new_tokens=8,
        train_problems=64,
        eval_problems=4,
        eval_samples=2,
        rounds=1,
        ft_epochs=1,
        lr=1e-3,
        device="cpu",
        tensorboard=False,
        lora_rank=lora,
        gradient_checkpointing=bool(lora),
    )
    before = {k: v.clone() for k, v in load_policy(tiny_llama).model.state_dict().items()}
    summary = train(cfg, quiet=True)
    assert summary["samples"] == 32
    saved = tmp_path / algo / "policy"
    assert (saved / "hf" / "model.safetensors").is_file()
    after = load_policy(saved).model.state_dict()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert changed, "no parameter moved"  # with LoRA: the adapters merged into the weights
    assert not any("lora" in k for k in after)
    if algo == "ppo":
        assert (saved / "value_head.safetensors").is_file()


def test_missing_sources_are_one_clear_error(tmp_path):
    with pytest.raises(PriorlabError, match="GGUF file not found"):
        load_policy(tmp_path / "nope.gguf")
    with pytest.raises(PriorlabError, match="no checkpoint at"):
        load_policy(tmp_path / "nothing-here")


def test_a_truncated_model_directory_is_one_clear_error(tiny_llama, tmp_path):
    import shutil

    damaged = shutil.copytree(tiny_llama, tmp_path / "llama")
    for weights in damaged.glob("*.safetensors"):
        weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(PriorlabError, match=f"from {damaged}: a .safetensors file there is trunc"):
        load_policy(damaged)


def test_lora_on_the_built_in_model_is_a_config_error(tmp_path):
    from priorlab.config import TrainConfig
    from priorlab.errors import ConfigError
    from priorlab.models import build_policy
    from priorlab.train import train

    build_policy("0.1m").save(tmp_path / "prior")
    cfg = TrainConfig(model=str(tmp_path / "prior"), out=str(tmp_path / "r"), lora_rank=4)
    with pytest.raises(ConfigError, match="lora_rank: applies to Hugging Face models only"):
        train(cfg, quiet=True)
