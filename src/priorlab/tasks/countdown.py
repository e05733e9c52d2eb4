"""`countdown` (the TinyZero task): reach a target from given numbers with + - * /.

Prompt "3,5,7>22:" (the numbers, '>', the target, ':'). The gold solution writes one
step per operation, children before parents, then '#' and a fully parenthesised
expression with the outer parentheses left off: "5*3=15,15+7=22#(5*3)+7".
The verifier parses the expression with `expr.parse_expression` (never eval) and checks
its value and that each given number is used exactly once (`use_all`) or at most once.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from fractions import Fraction

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
from priorlab.tasks.expr import (
    OPS,
    ExprError,
    Node,
    apply_op,
    literals,
    parse_expression,
    parse_tree,
)

TARGET_MAX = 999
_PROMPT = re.compile(r"[0-9]+(?:,[0-9]+)+>[0-9]+:")


def random_tree(numbers: Sequence[int], rng: random.Random) -> Node:
    """Combine two random members of the pool with a random op until one tree is left."""
    pool: list[Node] = list(numbers)
    while len(pool) > 1:
        i, j = rng.sample(range(len(pool)), 2)
        node = (pool[i], rng.choice(OPS), pool[j])
        pool = [x for k, x in enumerate(pool) if k not in (i, j)] + [node]
    return pool[0]


def render_expression(tree: Node) -> str:
    """Fully parenthesised, outer parentheses left off: ((5, "*", 3), "+", 7) -> "(5*3)+7"."""
    if isinstance(tree, int):
        return str(tree)
    left, op, right = tree
    wrap = lambda t: str(t) if isinstance(t, int) else f"({render_expression(t)})"
    return f"{wrap(left)}{op}{wrap(right)}"


def _write_steps(tree: Node, out: list[str]) -> Fraction:
    """Value of `tree`, appending "a op b=r" for each operation, children first.

    ExprError when a division is by zero or leaves a remainder.
    """
    if isinstance(tree, int):
        return Fraction(tree)
    left, op, right = tree
    a, b = _write_steps(left, out), _write_steps(right, out)
    value = apply_op(a, op, b)
    if value.denominator != 1:
        raise ExprError(f"{a}/{b} is not an integer")
    out.append(f"{a}{op}{b}={value}")
    return value


def solution_text(tree: Node) -> tuple[str, int]:
    """Steps, '#' and expression for an expression tree, and its value.

    ((5, "*", 3), "+", 7) -> ("5*3=15,15+7=22#(5*3)+7", 22); ExprError when a step
    would not be an integer.
    """
    steps: list[str] = []
    value = _write_steps(tree, steps)
    return ",".join(steps) + "#" + render_expression(tree), int(value)


def ops_of(tree: Node) -> tuple[str, ...]:
    """Sorted distinct operators of a tree: its skills."""
    if isinstance(tree, int):
        return ()
    left, op, right = tree
    return tuple(sorted({op, *ops_of(left), *ops_of(right)}))


def make_problem(numbers: Sequence[int], tree: Node) -> Problem:
    """The problem given `numbers` whose gold solution is `tree`.

    [3, 5, 7], ((5, "*", 3), "+", 7) -> prompt "3,5,7>22:", solution
    "5*3=15,15+7=22#(5*3)+7". ExprError when a step would not be an integer.
    """
    solution, target = solution_text(tree)
    prompt = ",".join(map(str, numbers)) + f">{target}:"
    return Problem(problem_id("countdown", prompt), prompt, str(target), solution, ops_of(tree))


def parse_prompt(prompt: str) -> tuple[list[int], int]:
    """ "3,5,7>22:" -> ([3, 5, 7], 22); ValueError when not a countdown prompt."""
    if not _PROMPT.fullmatch(prompt):
        raise ValueError(f"countdown: {prompt!r} is not a prompt like '3,5,7>22:'")
    numbers, target = prompt[:-1].split(">")
    return [int(x) for x in numbers.split(",")], int(target)


def _swap_op(tree: Node, index: int, op: str) -> Node:
    """`tree` with its `index`-th operation (children first) given operator `op`."""
    count = 0

    def walk(t: Node) -> Node:
        nonlocal count
        if isinstance(t, int):
            return t
        left, old, right = t
        left, right = walk(left), walk(right)
        count += 1
        return (left, op if count - 1 == index else old, right)

    return walk(tree)


class Countdown:
    """Reach the target from the given numbers with + - * /, exact division only."""

    name = "countdown"

    def __init__(
        self,
        n_numbers: int = 3,
        number_max: int = 9,
        use_all: bool = True,
        test_percent: int = 20,
    ):
        """
        n_numbers: how many numbers a prompt gives (2..6).
        number_max: numbers are drawn uniformly from 1..number_max (>= 1).
        use_all: True, each number is used exactly once; False, at most once.
        test_percent: share of the prompt space held out of train, half dev and half
            test (1..99); see `split_of`.
        """
        check_knob(
            is_int(n_numbers) and 2 <= n_numbers <= 6, "n_numbers", "an integer 2..6", n_numbers
        )
        check_knob(
            is_int(number_max) and number_max >= 1, "number_max", "an integer >= 1", number_max
        )
        check_knob(isinstance(use_all, bool), "use_all", "true or false", use_all)
        check_knob(
            is_int(test_percent) and 0 < test_percent < 100,
            "test_percent",
            "an integer 1..99",
            test_percent,
        )
        self.n_numbers, self.number_max = n_numbers, number_max
        self.use_all, self.test_percent = use_all, test_percent

    def _draw(self, rng: random.Random) -> Problem | None:
        """A random expression over random numbers, or None unless its value is in 1..999."""
        numbers = [rng.randint(1, self.number_max) for _ in range(self.n_numbers)]
        try:
            problem = make_problem(numbers, random_tree(numbers, rng))
        except ExprError:  # a division by zero or with a remainder
            return None
        return problem if 0 < int(problem.answer) <= TARGET_MAX else None

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
        check_skills(exclude, require, enabled=OPS, known=OPS)
        return draw_problems(
            self._draw,
            split,
            n,
            seed=seed,
            test_percent=self.test_percent,
            exclude_skills=exclude,
            require_skills=require,
            task="countdown",
            loosen="n_numbers or number_max",
        )

    def verify(self, problem: Problem, completion: str) -> Verdict:
        """Parse the expression after the last '#'; right value, and only given numbers."""
        if "#" not in completion:
            return Verdict(False, None, False)
        expression = completion.rsplit("#", 1)[1].strip()
        try:
            value, used = parse_expression(expression)
        except ExprError:
            return Verdict(False, None, False)
        numbers, target = parse_prompt(problem.prompt)
        given, used_count = Counter(numbers), Counter(used)
        allowed = used_count == given if self.use_all else not used_count - given
        return Verdict(allowed and value == target, expression, True)

    def wrong_solution(self, problem: Problem, rng: random.Random) -> str:
        """The gold solution with one operator swapped and the steps recomputed.

        Swaps that divide inexactly or keep the value are retried; after 20, the chain
        of all '+' (or, when that hits the target, all '-': always smaller) is used.
        """
        numbers, target = parse_prompt(problem.prompt)
        try:
            gold = parse_tree(problem.solution.rsplit("#", 1)[-1])
        except ExprError:
            gold = 0  # no usable gold expression: go straight to the fallback
        n_ops = len(literals(gold)) - 1
        for _ in range(20 if n_ops > 0 else 0):
            tree = _swap_op(gold, rng.randrange(n_ops), rng.choice(OPS))
            try:
                text, value = solution_text(tree)
            except ExprError:
                continue
            if value != target:
                return text
        op = "+" if sum(numbers) != target else "-"
        chain: Node = numbers[0]
        for b in numbers[1:]:
            chain = (chain, op, b)
        return solution_text(chain)[0]

    def steps(self, completion: str) -> list[str]:
        """Intermediate results: "5*3=15,15+7=22#(5*3)+7" -> ["15", "22"]."""
        return results_before_answer(completion)

    def whole_solution(self, problem: Problem, completion: str) -> None:
        """None: a countdown problem has many right expressions, and a right answer is a
        verified expression already (it cannot be guessed without its steps)."""
        return None
