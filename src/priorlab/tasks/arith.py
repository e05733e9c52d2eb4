"""`arith`: multi-step integer arithmetic chains, evaluated strictly left to right.

Prompt "3+4*2-5=" means ((3+4)*2)-5; the gold solution writes one step per operation:
"3+4=7,7*2=14,14-5=9#9". The operators are the task's skills: a pretraining corpus can
withhold one (say "*") while test problems require it.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable

from priorlab.tasks.base import (
    Problem,
    Verdict,
    check_knob,
    digest,
    draw_problems,
    results_before_answer,
)

OPS = ("+", "-", "*")
_INT = re.compile(r"^-?\d+$")


def apply(a: int, op: str, b: int) -> int:
    return a + b if op == "+" else a - b if op == "-" else a * b


def solve(operands: list[int], ops: list[str]) -> tuple[str, int]:
    """Gold solution text and final value of a left-to-right chain."""
    value, parts = operands[0], []
    for op, b in zip(ops, operands[1:]):
        nxt = apply(value, op, b)
        parts.append(f"{value}{op}{b}={nxt}")
        value = nxt
    return ",".join(parts) + f"#{value}", value


def make_problem(operands: list[int], ops: list[str]) -> Problem:
    prompt = str(operands[0]) + "".join(f"{op}{b}" for op, b in zip(ops, operands[1:])) + "="
    solution, value = solve(operands, ops)
    return Problem(
        f"arith-{digest(prompt)[:12]}", prompt, str(value), solution, tuple(sorted(set(ops)))
    )


class Arith:
    """Knobs: steps (operations), operand_max (operands 0..max), ops, value_max, test_percent."""

    name = "arith"

    def __init__(
        self,
        steps: int = 3,
        operand_max: int = 9,
        ops: Iterable[str] = OPS,
        value_max: int = 999,
        test_percent: int = 20,
    ):
        ops = tuple(ops)
        check_knob(isinstance(steps, int) and 1 <= steps <= 12, "steps", "an integer 1..12", steps)
        check_knob(
            isinstance(operand_max, int) and operand_max >= 1,
            "operand_max",
            "an integer >= 1",
            operand_max,
        )
        check_knob(len(ops) > 0 and set(ops) <= set(OPS), "ops", "a non-empty subset of + - *", ops)
        check_knob(value_max >= 1, "value_max", "an integer >= 1", value_max)
        check_knob(0 < test_percent < 100, "test_percent", "1..99", test_percent)
        self.steps, self.operand_max, self.ops = steps, operand_max, ops
        self.value_max, self.test_percent = value_max, test_percent

    def _draw(self, rng: random.Random) -> Problem | None:
        operands = [rng.randint(0, self.operand_max) for _ in range(self.steps + 1)]
        ops = [rng.choice(self.ops) for _ in range(self.steps)]
        value = operands[0]
        for op, b in zip(ops, operands[1:]):
            value = apply(value, op, b)
            if abs(value) > self.value_max:
                return None
        return make_problem(operands, ops)

    def problems(self, split: str, n: int, *, seed: int, exclude_skills=(), require_skills=()):
        return draw_problems(
            self._draw,
            split,
            n,
            seed=seed,
            test_percent=self.test_percent,
            exclude_skills=exclude_skills,
            require_skills=require_skills,
            task="arith",
        )

    def verify(self, problem: Problem, completion: str) -> Verdict:
        """The answer is the integer after the last '#'; anything else is unparsed."""
        if "#" not in completion:
            return Verdict(False, None, False)
        tail = completion.rsplit("#", 1)[1].strip()
        answer = tail.split()[0] if tail else ""
        if not _INT.match(answer):
            return Verdict(False, None, False)
        return Verdict(int(answer) == int(problem.answer), answer, True)

    def wrong_solution(self, problem: Problem, rng: random.Random) -> str:
        """A solution with one step's result off by 1-3, later steps consistent with it."""
        operands, ops = parse_prompt(problem.prompt)
        for _ in range(100):
            i = rng.randrange(len(ops))
            delta = rng.choice((-3, -2, -1, 1, 2, 3))
            value, parts = operands[0], []
            for j, (op, b) in enumerate(zip(ops, operands[1:])):
                nxt = apply(value, op, b) + (delta if j == i else 0)
                parts.append(f"{value}{op}{b}={nxt}")
                value = nxt
            if value != int(problem.answer):
                return ",".join(parts) + f"#{value}"
        raise ValueError(f"arith: could not corrupt {problem.prompt!r}")

    def intermediate(self, completion: str) -> list[str]:
        return results_before_answer(completion)


def parse_prompt(prompt: str) -> tuple[list[int], list[str]]:
    """ "3+4*2-5=" -> ([3, 4, 2, 5], ["+", "*", "-"])."""
    tokens = re.findall(r"\d+|[+\-*]", prompt.rstrip("="))
    return [int(t) for t in tokens[0::2]], tokens[1::2]
