"""Sampler throughput: priorlab's KV-cached sampler vs Hugging Face `generate`, one run.

Both models are randomly initialised decoder-only transformers of the same width, depth,
heads and vocabulary (a LlamaForCausalLM built from a config, no download), sampling
`--new` tokens after `--prompt`-token prompts at the same batch sizes, fp32 on the CPU.
Prints new tokens per second for both and the ratio, and the ceiling on that ratio set by
the matrix-multiply kernels: the seconds priorlab's sampler spends inside them
(torch.profiler, best of the repeats) give the tokens/s it would reach if everything else
-- sampling, masks, norms, Python -- cost nothing; ceiling = that over HF's tokens/s.

    .venv/bin/python benchmarks/sampler.py
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.profiler import ProfilerActivity, profile

from priorlab.models import build_policy, count_parameters
from priorlab.rollout import sample


def best_of(fn, repeats: int) -> float:
    """Highest tokens/s over `repeats` calls of fn() -> tokens (after one warm-up call)."""
    fn()
    best = 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        tokens = fn()
        best = max(best, tokens / (time.perf_counter() - t0))
    return best


MATMUL_KERNELS = {
    "aten::addmm",
    "aten::mm",
    "aten::bmm",
    "aten::baddbmm",
    "aten::_scaled_dot_product_flash_attention_for_cpu",
}


def matmul_rate(fn, repeats: int) -> float:
    """Tokens per second of matrix-multiply kernel time: fn() -> tokens under torch.profiler,
    the highest over `repeats` calls."""
    best = 0.0
    for _ in range(repeats):
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            tokens = fn()
        events = prof.key_averages()
        micros = sum(e.self_cpu_time_total for e in events if e.key in MATMUL_KERNELS)
        best = max(best, tokens / (micros / 1e6))
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--batches",
        nargs="+",
        default=["64", "512", "64x8"],
        help="rows, or PROMPTSxSAMPLES: each prompt sampled SAMPLES times, as in an RL step",
    )
    ap.add_argument("--prompt", type=int, default=20)
    ap.add_argument("--new", type=int, default=40)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    torch.manual_seed(0)
    from transformers import LlamaConfig, LlamaForCausalLM

    policy = build_policy("1m", max_len=args.prompt + args.new + 2)
    cfg = policy.model.cfg
    hf = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=cfg.vocab_size,
            hidden_size=cfg.d_model,
            intermediate_size=4 * cfg.d_model,
            num_hidden_layers=cfg.n_layer,
            num_attention_heads=cfg.n_head,
            num_key_value_heads=cfg.n_head,
            max_position_embeddings=256,
            bos_token_id=1,
            eos_token_id=2,
            pad_token_id=0,
        )
    ).eval()
    print(
        f"priorlab model {count_parameters(policy.model) / 1e6:.2f}M params, "
        f"HF Llama {count_parameters(hf) / 1e6:.2f}M params; "
        f"d={cfg.d_model} layers={cfg.n_layer} heads={cfg.n_head} vocab={cfg.vocab_size}; "
        f"prompt {args.prompt} tokens, {args.new} new, threads {torch.get_num_threads()}"
    )
    gen = torch.Generator().manual_seed(0)
    for shape in args.batches:
        n, _, g = shape.partition("x")
        n, g = int(n), int(g or 1)
        prompts = torch.randint(5, cfg.vocab_size, (n, args.prompt), generator=gen)
        ids = [[1, *row] for row in prompts[:, 1:].tolist() for _ in range(g)]

        def ours():
            s = sample(policy, ids, max_new_tokens=args.new, generator=gen)
            return float(s.mask.sum())

        def theirs():
            with torch.no_grad():
                out = hf.generate(
                    prompts,
                    attention_mask=torch.ones_like(prompts),
                    do_sample=True,
                    max_new_tokens=args.new,
                    min_new_tokens=args.new,
                    top_k=0,
                    num_return_sequences=g,
                )
            return float((out.shape[1] - args.prompt) * n * g)

        a, b = best_of(ours, args.repeats), best_of(theirs, args.repeats)
        ceiling = matmul_rate(ours, args.repeats)
        print(
            f"batch {shape:>5}: priorlab {a:9,.0f} tok/s | HF generate {b:9,.0f} tok/s | "
            f"ratio {a / b:.2f}x | matmul kernels {a / ceiling:.0%} of priorlab's time, "
            f"ceiling {ceiling / b:.2f}x"
        )


if __name__ == "__main__":
    main()
