"""`countdown` (the TinyZero task): reach a target from given numbers with + - * /.

Prompt "3,5,7>22:"; gold solution "3*5=15,15+7=22#(3*5)+7": the steps, then '#' and an
expression. The verifier parses the expression with its own parser (never eval) and
checks the value and that each given number is used exactly once (or at most once).
"""

from __future__ import annotations

import random
from collections import Counter
from fractions import Fraction

from priorlab.tasks.base import (
    Problem,
    Verdict,
    check_knob,
    digest,
    draw_problems,
    results_before_answer,
)
from priorlab.tasks.expr import ExprError, parse_expression

OPS = ("+", "-", "*", "/")


def _combine(a: Fraction, op: str, b: Fraction) -> Fraction | None:
    if op == "/":
        return None if b == 0 else a / b
    return a + b if op == "+" else a - b if op == "-" else a * b


def build_solution(numbers: list[int], ops: list[str]) -> tuple[str, Fraction | None, str]:
    """Left-to-right combination of `numbers` with `ops`: (solution, value, expression)."""
    value, expr, parts = Fraction(numbers[0]), str(numbers[0]), []
    for op, b in zip(ops, numbers[1:]):
        nxt = _combine(value, op, Fraction(b))
        if nxt is None or nxt.denominator != 1:
            return "", None, ""
        parts.append(f"{value}{op}{b}={nxt}")
        expr = f"({expr}){op}{b}" if parts[1:] else f"{expr}{op}{b}"
        value = nxt
    return ",".join(parts) + f"#{expr}", value, expr


class Countdown:
    """Knobs: n_numbers (2..6), number_max (numbers 1..max), use_all, test_percent."""

    name = "countdown"

    def __init__(
        self, n_numbers: int = 3, number_max: int = 9, use_all: bool = True, test_percent: int = 20
    ):
        check_knob(
            isinstance(n_numbers, int) and 2 <= n_numbers <= 6, "n_numbers", "2..6", n_numbers
        )
        check_knob(
            isinstance(number_max, int) and number_max >= 1,
            "number_max",
            "an integer >= 1",
            number_max,
        )
        check_knob(0 < test_percent < 100, "test_percent", "1..99", test_percent)
        self.n_numbers, self.number_max, self.use_all = n_numbers, number_max, bool(use_all)
        self.test_percent = test_percent

    def _draw(self, rng: random.Random) -> Problem | None:
        numbers = [rng.randint(1, self.number_max) for _ in range(self.n_numbers)]
        order = rng.sample(numbers, len(numbers))
        ops = [rng.choice(OPS) for _ in range(self.n_numbers - 1)]
        solution, value, _ = build_solution(order, ops)
        if value is None or not 0 < value <= 999:
            return None
        prompt = ",".join(map(str, numbers)) + f">{value}:"
        return Problem(
            f"countdown-{digest(prompt)[:12]}",
            prompt,
            str(value),
            solution,
            tuple(sorted(set(ops))),
        )

    def problems(self, split: str, n: int, *, seed: int, exclude_skills=(), require_skills=()):
        return draw_problems(
            self._draw,
            split,
            n,
            seed=seed,
            test_percent=self.test_percent,
            exclude_skills=exclude_skills,
            require_skills=require_skills,
            task="countdown",
        )

    def verify(self, problem: Problem, completion: str) -> Verdict:
        if "#" not in completion:
            return Verdict(False, None, False)
        expr = completion.rsplit("#", 1)[1].strip()
        try:
            value, literals = parse_expression(expr)
        except ExprError:
            return Verdict(False, None, False)
        given = Counter(numbers_of(problem.prompt))
        used = Counter(literals)
        allowed = used == given if self.use_all else not (used - given)
        return Verdict(allowed and value == int(problem.answer), expr, True)

    def wrong_solution(self, problem: Problem, rng: random.Random) -> str:
        """Same numbers and format, an operator swapped so the value is wrong."""
        numbers = numbers_of(problem.prompt)
        for _ in range(200):
            order = rng.sample(numbers, len(numbers))
            ops = [rng.choice(OPS) for _ in range(len(numbers) - 1)]
            solution, value, _ = build_solution(order, ops)
            if value is not None and value != int(problem.answer):
                return solution
        raise ValueError(f"countdown: could not corrupt {problem.prompt!r}")

    def intermediate(self, completion: str) -> list[str]:
        return results_before_answer(completion)


def numbers_of(prompt: str) -> list[int]:
    """ "3,5,7>22:" -> [3, 5, 7]."""
    return [int(x) for x in prompt.split(">", 1)[0].split(",")]
