"""Behaviour-equivalence check for refactors: a fixed set of algorithm x reward cases,
each trained briefly from one tiny prior; per case the sha256 of its final weights
(model.safetensors) and of its metrics (metrics.jsonl and summary.json with wall-clock
fields dropped). Same machine and code -> same hashes; run it before and after a change:

    python benchmarks/equivalence.py --out before.json          # on the old commit
    python benchmarks/equivalence.py --check before.json        # on the new one

Hashes are per machine (another CPU rounds differently), so this is a tool, not a test.
About 3 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

from priorlab.config import PretrainConfig, TrainConfig
from priorlab.priors import pretrain
from priorlab.train import train

EASY = {"steps": 2, "ops": ["+", "-"]}
ALGOS = ["grpo", "dr_grpo", "dapo", "cispo", "gppo", "gfpo", "lite_ppo", "rloo",
         "reinforce_pp", "ppo", "ei", "rcrl", "sft"]  # fmt: skip
REWARDS = {  # label -> (reward, reward_params), each trained with grpo
    "dense_steps": ("dense_steps", {}),
    "cosine_length": ("cosine_length", {}),
    "format": ("format", {}),
    "verifier": ("verifier", {}),
    "majority_vote": ("majority_vote", {}),
    "self_certainty": ("self_certainty", {}),
    "verifree_full": ("reference_likelihood", {"objective": "full"}),
    "orm": ("orm", {}),
    "delta_belief": ("delta_belief", {}),
    "sdpo": ("sdpo", {}),
    "serl": ("serl", {}),
    "raro": ("raro", {}),
    "polar": ("polar", {"problems": 32, "steps": 10, "batch": 8}),
}
JSD = {"divergence": "jsd"}
TIMING = ("perf/", "time", "_s")  # metric keys whose values are wall-clock


def _clean(value):
    """value with wall-clock entries (keys starting perf/ or ending _s) dropped, recursively."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()
                if not (k.startswith("perf/") or k.endswith("_s") or k == "time")}  # fmt: skip
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _digest(run: Path) -> dict:
    """{"weights", "metrics"}: sha256 of the final weights and of the run's cleaned metrics."""
    weights = hashlib.sha256((run / "policy" / "model.safetensors").read_bytes()).hexdigest()
    rows = [_clean(json.loads(line)) for line in (run / "metrics.jsonl").read_text().splitlines()]
    summary = _clean(json.loads((run / "summary.json").read_text()))
    text = json.dumps({"rows": rows, "summary": summary}, sort_keys=True)
    return {"weights": weights, "metrics": hashlib.sha256(text.encode()).hexdigest()}


def cases() -> dict[str, dict]:
    """case label -> TrainConfig fields beyond the shared small run."""
    # the random reward: a barely trained prior is never right, so the verifier moves nothing
    out = {f"{algo}/random": {"algo": algo, "reward": "random"} for algo in ALGOS}
    out["dapo/random"] |= {"max_new_tokens": 28}  # its overlong window beyond the gold
    for label, (reward, params) in REWARDS.items():
        out[f"grpo/{label}"] = {"algo": "grpo", "reward": reward, "reward_params": params}
    out["grpo/sdpo_jsd"] = {"algo": "grpo", "reward": "sdpo", "reward_params": JSD}
    for label in ("serl", "delta_belief", "verifree_full"):  # dynamic sampling joins batches
        reward, params = REWARDS[label]
        out[f"dapo/{label}"] = {"algo": "dapo", "reward": reward, "reward_params": params,
                                "max_new_tokens": 28}  # fmt: skip
    out["dapo/sdpo_jsd"] = {**out["grpo/sdpo_jsd"], "algo": "dapo", "max_new_tokens": 28}
    for label in ("sdpo", "sdpo_jsd", "serl", "delta_belief"):  # learning from right answers
        out[f"able/{label}"] = out.get(f"grpo/{label}") or out["grpo/sdpo_jsd"]
    terms = {"entropy_coef": 0.01, "kl_in_reward": False}  # the entropy and KL loss terms
    out["ppo_terms/random"] = {"algo": "ppo", "reward": "random", "algo_params": terms}
    return out


def run_all(root: Path, only: list[str] | None = None) -> dict[str, dict]:
    def prior(name: str, steps: int) -> str:
        path = root / name
        if not path.exists():
            pretrain(PretrainConfig(out=str(path), task_params=EASY, size="0.1m", steps=steps,
                                    corpus_size=500, batch_size=32, seed=0, max_len=96,
                                    roles=["judge", "critic", "hint"]), quiet=True)  # fmt: skip
        return str(path)

    shared = dict( task_params=EASY, rollout_budget=64, prompts_per_step=4,
                  group_size=4, max_new_tokens=16, train_problems=200, eval_problems=8,
                  eval_samples=4, minibatch_size=16, rounds=2, ft_epochs=1, lr=1e-3,
                  tensorboard=False, seed=0)  # fmt: skip
    out = {}
    for label, fields in cases().items():
        if only and label not in only:
            continue
        run = root / label.replace("/", "__")
        # "able/": a prior trained long enough to be right at times, so that the methods
        # that learn from right answers (SDPO's teachers, SERL's decisive pairs) do learn
        model = prior("able", 1500) if label.startswith("able/") else prior("prior", 200)
        train(TrainConfig(**{**shared, **fields, "model": model, "out": str(run)}), quiet=True)
        out[label] = _digest(run)
        print(f"{label:28s} {out[label]['weights'][:12]} {out[label]['metrics'][:12]}", flush=True)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", help="write the hashes here (JSON)")
    parser.add_argument("--check", help="compare against hashes written by --out")
    parser.add_argument("--only", nargs="*", help="case labels to run (default: all)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        hashes = run_all(Path(tmp), args.only)
    if args.out:
        Path(args.out).write_text(json.dumps(hashes, indent=1, sort_keys=True) + "\n")
    if not args.check:
        return 0
    before = json.loads(Path(args.check).read_text())
    changed = sorted(k for k in hashes if before.get(k) != hashes[k])
    missing = sorted(set(before) - set(hashes))
    for label in changed:
        print(f"CHANGED {label}: {before.get(label)} -> {hashes[label]}")
    print(f"{len(hashes) - len(changed)} of {len(hashes)} cases identical"
          + (f"; not run: {', '.join(missing)}" if missing else ""))  # fmt: skip
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main())
