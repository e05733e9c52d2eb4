"""`arith`: multi-step integer arithmetic chains, evaluated strictly left to right.

There is no operator precedence: "3+4*2-5=" means ((3+4)*2)-5 = 9. The gold solution
writes one step per operation, then '#' and the answer: "3+4=7,7*2=14,14-5=9#9".
A problem's skills are its operators, so a pretraining corpus can withhold one (say
"*", with `exclude_skills`) while test problems require it (`require_skills`).
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence

from priorlab.tasks.base import (
    Problem,
    Verdict,
    check_knob,
    check_skills,
    draw_problems,
    is_int,
    problem_id,
    results_before_answer,
)

OPS = ("+", "-", "*")
_INT = re.compile(r"-?[0-9]+")
_PROMPT = re.compile(r"[0-9]+(?:[-+*][0-9]+)+=")


def apply(a: int, op: str, b: int) -> int:
    """a op b for op in + - *."""
    return a + b if op == "+" else a - b if op == "-" else a * b


def chain_text(
    operands: Sequence[int], ops: Sequence[str], *, off_by: dict[int, int] | None = None
) -> tuple[str, int]:
    """Solution text and final value of a left-to-right chain.

    `off_by` maps a step index to an error added to that step's result (later steps
    then continue from the wrong value); None gives the gold solution.
    [3, 4, 2, 5], ["+", "*", "-"] -> ("3+4=7,7*2=14,14-5=9#9", 9).
    """
    off_by = off_by or {}
    value, parts = operands[0], []
    for i, (op, b) in enumerate(zip(ops, operands[1:])):
        result = apply(value, op, b) + off_by.get(i, 0)
        parts.append(f"{value}{op}{b}={result}")
        value = result
    return ",".join(parts) + f"#{value}", value


def make_problem(operands: Sequence[int], ops: Sequence[str]) -> Problem:
    """The arith problem for a chain: [3, 4, 2, 5], ["+", "*", "-"] -> prompt "3+4*2-5="."""
    if len(operands) != len(ops) + 1 or not ops or not set(ops) <= set(OPS):
        raise ValueError(f"arith: need n operands and n-1 >= 1 ops in + - *; got {operands}, {ops}")
    prompt = str(operands[0]) + "".join(f"{op}{b}" for op, b in zip(ops, operands[1:])) + "="
    solution, value = chain_text(operands, ops)
    return Problem(
        problem_id("arith", prompt), prompt, str(value), solution, tuple(sorted(set(ops)))
    )


def parse_prompt(prompt: str) -> tuple[list[int], list[str]]:
    """ "3+4*2-5=" -> ([3, 4, 2, 5], ["+", "*", "-"]); ValueError when not an arith prompt."""
    if not _PROMPT.fullmatch(prompt):
        raise ValueError(f"arith: {prompt!r} is not a prompt like '3+4*2-5='")
    tokens = re.findall(r"[0-9]+|[-+*]", prompt)
    return [int(t) for t in tokens[0::2]], tokens[1::2]


def canonical_int(text: str) -> str:
    """An integer's text without leading zeros or a negative zero: "-007" -> "-7".

    Compares answers without int(), which refuses strings over 4,300 digits.
    """
    digits = text.lstrip("-").lstrip("0") or "0"
    return "-" + digits if text.startswith("-") and digits != "0" else digits


class Arith:
    """Left-to-right integer chains of + - * over small operands.

    The `steps` knob is stored as `n_steps`: the name `steps` is the Task method that
    lists a completion's intermediate results.
    """

    name = "arith"
    step_marks = ",#"  # a step ends at ',' and the last one at '#', before the answer

    def __init__(
        self,
        steps: int = 3,
        operand_max: int = 9,
        ops: Iterable[str] = OPS,
        value_max: int = 999,
        test_percent: int = 20,
    ):
        """
        steps: operations per problem (>= 1); a prompt has steps + 1 operands.
        operand_max: operands are drawn uniformly from 0..operand_max (>= 1).
        ops: the operators to draw from, a non-empty subset of "+", "-", "*".
        value_max: chains with any intermediate |value| above it are redrawn (>= 1).
        test_percent: share of the prompt space held out of train, half dev and half
            test (1..99); see `split_of`.
        """
        accepted_ops = "a non-empty subset of + - *"
        check_knob(isinstance(ops, Iterable), "ops", accepted_ops, ops)
        ops = tuple(dict.fromkeys(ops))  # distinct, in the order given
        check_knob(is_int(steps) and steps >= 1, "steps", "an integer >= 1", steps)
        check_knob(
            is_int(operand_max) and operand_max >= 1,
            "operand_max",
            "an integer >= 1",
            operand_max,
        )
        check_knob(0 < len(ops) and set(ops) <= set(OPS), "ops", accepted_ops, ops)
        check_knob(is_int(value_max) and value_max >= 1, "value_max", "an integer >= 1", value_max)
        check_knob(
            is_int(test_percent) and 0 < test_percent < 100,
            "test_percent",
            "an integer 1..99",
            test_percent,
        )
        self.n_steps, self.operand_max, self.ops = steps, operand_max, ops
        self.value_max, self.test_percent = value_max, test_percent

    @staticmethod
    def solve(prompt: str) -> Problem:
        """The problem (with gold solution) for an arith prompt such as "3+4*2-5="."""
        return make_problem(*parse_prompt(prompt))

    def _draw(self, rng: random.Random) -> Problem | None:
        """A random chain, or None when an intermediate value leaves [-value_max, value_max]."""
        operands = [rng.randint(0, self.operand_max) for _ in range(self.n_steps + 1)]
        ops = [rng.choice(self.ops) for _ in range(self.n_steps)]
        value = operands[0]
        for op, b in zip(ops, operands[1:]):
            value = apply(value, op, b)
            if abs(value) > self.value_max:
                return None
        return make_problem(operands, ops)

    def problems(
        self,
        split: str,
        n: int,
        *,
        seed: int,
        exclude_skills: Iterable[str] = (),
        require_skills: Iterable[str] = (),
    ) -> list[Problem]:
        """Exactly n distinct problems of `split` ("train", "dev" or "test"), seeded; see base."""
        exclude, require = set(exclude_skills), set(require_skills)
        check_skills(exclude, require, enabled=self.ops, known=OPS)
        return draw_problems(
            self._draw,
            split,
            n,
            seed=seed,
            test_percent=self.test_percent,
            exclude_skills=exclude,
            require_skills=require,
            task="arith",
            loosen="steps, operand_max, ops or value_max",
        )

    def verify(self, problem: Problem, completion: str) -> Verdict:
        """The answer is the text after the last '#' up to whitespace; it must be an integer."""
        if "#" not in completion:
            return Verdict(False, None, False)
        tail = completion.rsplit("#", 1)[1].split()
        answer = tail[0] if tail else ""
        if not _INT.fullmatch(answer):
            return Verdict(False, None, False)
        return Verdict(canonical_int(answer) == canonical_int(problem.answer), answer, True)

    def wrong_solution(self, problem: Problem, rng: random.Random) -> str:
        """A gold-format solution with one step's result off by 1..3, later steps consistent.

        If the error cancels out (e.g. a later "*0"), the last step takes it instead,
        which always changes the final answer.
        """
        operands, ops = parse_prompt(problem.prompt)
        delta = rng.choice((-3, -2, -1, 1, 2, 3))
        text, value = chain_text(operands, ops, off_by={rng.randrange(len(ops)): delta})
        if value == int(problem.answer):
            text, value = chain_text(operands, ops, off_by={len(ops) - 1: delta})
        return text

    def steps(self, completion: str) -> list[str]:
        """Intermediate results: "3+4=7,7*2=14#14" -> ["7", "14"]."""
        return results_before_answer(completion)

    def whole_solution(self, problem: Problem, completion: str) -> bool:
        """Right answer and every step the gold one: a left-to-right chain has one right path,
        so "3+4=7,7*2=14#14" must be written as is (a guessed answer after wrong steps: False)."""
        body = completion.rsplit("#", 1)[0].strip()
        return self.verify(problem, completion).correct and body == problem.solution.split("#")[0]
