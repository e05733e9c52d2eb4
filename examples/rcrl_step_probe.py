"""One round of RCRL with per-step labels, small: how the forced step tokens train.

    python examples/rcrl_step_probe.py PRIOR --lr 3e-4 [--sequence] [--gold]

PRIOR: a built-in arith prior (`priorlab pretrain`, steps 2, ops + -). 32 train problems x 8
samples drawn under <r1>, labelled per step (or per sequence with --sequence; --gold: the
gold solutions of 256 problems instead, every step <r1>), 120 steps in minibatches of 64,
then forced greedy accuracy on 64 test problems (docs/methods/algorithms.md).
"""

import argparse

import torch

from priorlab.encoding import encode_pairs
from priorlab.models import load_policy
from priorlab.offline import step_labelled
from priorlab.optim import make_optimizer
from priorlab.rollout import rollout
from priorlab.supervised import sft_step
from priorlab.tasks import make_task


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("prior")
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--sequence", action="store_true", help="one label per sequence")
    ap.add_argument("--gold", action="store_true", help="gold solutions, every step <r1>")
    args = ap.parse_args()
    torch.manual_seed(0)
    policy = load_policy(args.prior)
    tok, task = policy.tokenizer, make_task("arith", steps=2, ops=["+", "-"])
    r0, r1 = tok.return_ids
    policy.init_tokens_like([r0, r1], tok.bos_id)
    rows = _gold(tok, task) if args.gold else _own(policy, task, per_step=not args.sequence)
    forced = () if args.sequence else (r0, r1)
    opt = make_optimizer(policy.model, args.lr, rows=[r0, r1], rows_lr=1e-2)
    gen = torch.Generator().manual_seed(0)
    for _ in range(120):
        chunk = [rows[i] for i in torch.randperm(len(rows), generator=gen)[:64].tolist()]
        samples = encode_pairs(
            tok,
            [p.prompt for p, _, _ in chunk],
            [c for _, c, _ in chunk],
            max_len=policy.model.cfg.max_len,
            prefixes=[x for *_, x in chunk],
        )
        loss = sft_step(policy, opt, samples, forced=forced)
    if not args.sequence:
        policy.meta = {**policy.meta, "condition_steps": tok.encode(task.step_marks, bos=False)}
    test = task.problems("test", 64, seed=0)
    batch = rollout(
        policy,
        test,
        group_size=1,
        max_new_tokens=28,
        temperature=0,
        generator=torch.Generator().manual_seed(1),
        prefix=[r1],
    )
    right = sum(task.verify(p, t).correct for p, t in zip(test, batch.texts))
    print(f"last loss {loss:.3f}; forced greedy accuracy {right / len(test):.3f}")


def _own(policy, task, *, per_step: bool) -> list[tuple]:
    """The prior's samples under <r1>, labelled as RCRL labels them."""
    tok = policy.tokenizer
    problems = task.problems("train", 32, seed=0)
    batch = rollout(
        policy,
        problems,
        group_size=8,
        max_new_tokens=28,
        prefix=[tok.return_ids[1]],
        generator=torch.Generator().manual_seed(0),
    )
    rows = []
    for p, text in zip(batch.problems, batch.texts):
        ok = task.verify(p, text).correct
        body = step_labelled(tok, task, p, text, ok) if per_step else text
        rows.append((p, body, [tok.return_token(ok)]))
    return rows


def _gold(tok, task) -> list[tuple]:
    problems = task.problems("train", 256, seed=0)
    good = [tok.return_token(True)]
    return [(p, step_labelled(tok, task, p, p.solution, True), good) for p in problems]


if __name__ == "__main__":
    main()
