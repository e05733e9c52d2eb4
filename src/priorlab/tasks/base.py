"""What a task is: problems with gold step-by-step solutions, and a verifier.

A task knows no model. Train and test splits are disjoint by construction: a problem's
split is a hash bucket of its prompt, whatever the seed.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

SPLITS = ("train", "test")


@dataclass(frozen=True)
class Problem:
    id: str  # stable unique id, e.g. "arith-<12 hex of sha1(prompt)>"
    prompt: str  # text given to the model; the completion follows directly
    answer: str  # canonical gold final answer
    solution: str  # gold step-by-step completion (no EOS), ends with the final answer
    skills: tuple[str, ...]  # sorted step types the problem uses


@dataclass(frozen=True)
class Verdict:
    correct: bool
    answer: str | None  # extracted answer text, None when nothing parsed
    parsed: bool  # a final answer could be extracted at all


class Task(Protocol):
    name: str

    def problems(
        self,
        split: str,
        n: int,
        *,
        seed: int,
        exclude_skills: Iterable[str] = (),
        require_skills: Iterable[str] = (),
    ) -> list[Problem]: ...

    def verify(self, problem: Problem, completion: str) -> Verdict: ...

    def wrong_solution(self, problem: Problem, rng: random.Random) -> str: ...

    def intermediate(self, completion: str) -> list[str]: ...


def digest(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def split_of(prompt: str, test_percent: int) -> str:
    """ "test" when sha1(prompt) mod 100 < test_percent, else "train"."""
    return "test" if int(digest(prompt), 16) % 100 < test_percent else "train"


def draw_problems(
    make: Callable[[random.Random], Problem | None],
    split: str,
    n: int,
    *,
    seed: int,
    test_percent: int,
    exclude_skills: Iterable[str] = (),
    require_skills: Iterable[str] = (),
    task: str = "task",
) -> list[Problem]:
    """n distinct problems of `split` from the seeded generator `make(rng)`, in draw order."""
    if split not in SPLITS:
        raise ValueError(f"split: {split!r} is not one of {', '.join(SPLITS)}")
    exclude, require = set(exclude_skills), set(require_skills)
    rng = random.Random(f"{seed}:{split}")
    out: list[Problem] = []
    seen: set[str] = set()
    attempts = 0
    budget = 200 * n + 10_000
    while len(out) < n:
        attempts += 1
        if attempts > budget:
            raise ValueError(
                f"{task}: found only {len(out)} distinct {split} problems of the {n} asked for;"
                " ask for fewer, or loosen the knobs (more steps, a larger operand range,"
                " fewer excluded / required skills)"
            )
        p = make(rng)
        if p is None or p.prompt in seen or split_of(p.prompt, test_percent) != split:
            continue
        if exclude & set(p.skills) or not require <= set(p.skills):
            continue
        seen.add(p.prompt)
        out.append(p)
    return out


def check_knob(ok: bool, name: str, accepted: str, value) -> None:
    if not ok:
        raise ValueError(f"{name}: {value!r} is invalid; accepted: {accepted}")


def results_before_answer(completion: str) -> list[str]:
    """The text after each '=' up to the next ',' or '#' (intermediate results, in order)."""
    body = completion.rsplit("#", 1)[0]
    return [part.split("=", 1)[1].strip() for part in body.split(",") if "=" in part]
