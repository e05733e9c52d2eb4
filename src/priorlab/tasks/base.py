"""What a task is: seeded problems with gold step-by-step solutions, and a verifier.

A task knows no model. Train, dev and test are disjoint by construction: a problem's split
is a hash bucket of its prompt (`split_of`), whatever the seed. Dev is for choosing
hyper-parameters and checking convergence, so that test is read only for the final numbers.
Prompts and solutions use printable ASCII only, with no newline, so a character-level
model can read them.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from priorlab.errors import InvalidValue

SPLITS = ("train", "dev", "test")


@dataclass(frozen=True)
class Problem:
    """One problem: what the model is given and what a perfect completion looks like."""

    id: str
    """Stable unique id, "<task>-<first 12 hex digits of sha1(prompt)>"."""
    prompt: str
    """Text the model is given; the completion follows it directly."""
    answer: str
    """Canonical gold final answer, e.g. "9"."""
    solution: str
    """Gold step-by-step completion (no EOS marker); ends with the final answer."""
    skills: tuple[str, ...]
    """Sorted, distinct step types the problem uses (for arith: its operators)."""


@dataclass(frozen=True)
class Verdict:
    """The verifier's judgement of one completion."""

    correct: bool
    """The final answer is right (and, for countdown, obeys the rules)."""
    answer: str | None
    """The extracted final answer text; None when nothing could be parsed."""
    parsed: bool
    """A final answer could be extracted and parsed at all."""


class Task(Protocol):
    """A family of problems; every task in `TASKS` satisfies this."""

    name: str

    def problems(
        self,
        split: str,
        n: int,
        *,
        seed: int,
        exclude_skills: Iterable[str] = (),
        require_skills: Iterable[str] = (),
    ) -> list[Problem]:
        """Exactly n distinct problems of `split`; same arguments, same list."""
        ...

    def verify(self, problem: Problem, completion: str) -> Verdict:
        """Judge a completion of `problem.prompt`; never evaluates model text as code."""
        ...

    def wrong_solution(self, problem: Problem, rng: random.Random) -> str:
        """A plausible solution in the gold format whose final answer is wrong."""
        ...

    def steps(self, completion: str) -> list[str]:
        """The intermediate results written in a completion, in order."""
        ...

    def whole_solution(self, problem: Problem, completion: str) -> bool | None:
        """Is every step of the completion right (the answer too)? None when the task cannot
        tell (its problems have more than one right path): coverage counted on whole
        solutions is what a guessed final answer cannot inflate."""
        ...


def digest(text: str) -> str:
    """Hex sha1 of `text` (UTF-8): stable across runs and machines, unlike hash()."""
    return hashlib.sha1(text.encode()).hexdigest()


def problem_id(task: str, prompt: str) -> str:
    """ "arith", "3+4=" -> "arith-" + the first 12 hex digits of sha1(prompt)."""
    return f"{task}-{digest(prompt)[:12]}"


def held_out(text: str, test_percent: int) -> bool:
    """True when int(sha1(text)) mod 100 < test_percent: not in the train split."""
    return int(digest(text), 16) % 100 < test_percent


def split_of(prompt: str, test_percent: int) -> str:
    """ "train", "dev" or "test" for a prompt, from h = int(sha1(prompt)), whatever the seed.

    "train" unless `held_out` (h mod 100 < test_percent); a held-out prompt is "test" when
    (h // 100) mod 2 == 0, else "dev". So dev and test each get about test_percent / 2 of
    the prompt space, and train is what it was before dev existed. At test_percent 20:
    "3+4*2-5=" (h mod 100 = 86) -> "train"; "0+0=" (11; then 0) -> "test"; "3+4=" (12;
    then 1) -> "dev".
    """
    if not held_out(prompt, test_percent):
        return "train"
    return "test" if int(digest(prompt), 16) // 100 % 2 == 0 else "dev"


class TooFewProblems(InvalidValue):
    """A split holds fewer distinct problems (with the skills asked) than were asked for.

    `found` are those it does hold, in order: a caller that can do with fewer (a default
    corpus size, see `up_to`) takes them; everyone else sees a ValueError.
    """

    def __init__(self, message: str, found: list[Problem]):
        super().__init__(message)
        self.found = found


def up_to(task: Task, split: str, n: int, **kwargs) -> list[Problem]:
    """`task.problems(split, n, **kwargs)`, or every problem of `split` the task can supply
    when that is fewer than n: for defaults that must work for every task and knob."""
    try:
        return task.problems(split, n, **kwargs)
    except TooFewProblems as e:
        return e.found


def check_knob(ok: bool, name: str, accepted: str, value: object) -> None:
    """Raise InvalidValue (a ValueError) naming the knob, its bad value and what is
    accepted, unless `ok`."""
    if not ok:
        raise InvalidValue(f"{name}: {value!r} is invalid; accepted: {accepted}")


def is_int(value: object) -> bool:
    """True for an int that is not a bool (True would otherwise pass as 1)."""
    return isinstance(value, int) and not isinstance(value, bool)


def check_skills(
    exclude: set[str], require: set[str], *, enabled: Iterable[str], known: Iterable[str]
) -> None:
    """Reject skill names the task cannot produce: typos, or requirements it cannot meet."""
    known, enabled = tuple(known), tuple(enabled)
    for name, asked, allowed in (
        ("exclude_skills", exclude, known),
        ("require_skills", require, enabled),
    ):
        unknown = sorted(asked - set(allowed))
        if unknown:
            raise InvalidValue(
                f"{name}: {', '.join(map(repr, unknown))} not among this task's skills; "
                f"accepted: {', '.join(map(repr, allowed))}"
            )


def draw_problems(
    draw: Callable[[random.Random], Problem | None],
    split: str,
    n: int,
    *,
    seed: int,
    test_percent: int,
    exclude_skills: Iterable[str] = (),
    require_skills: Iterable[str] = (),
    task: str = "task",
    loosen: str = "the task's knobs",
) -> list[Problem]:
    """The first n distinct problems of `split` that `draw(rng)` yields, in draw order.

    The rng is `random.Random(f"{seed}:{split}")`; `draw` returns None to reject a
    candidate. A candidate is kept when its prompt hashes into `split`, is new, uses
    none of `exclude_skills` and all of `require_skills`. After 20 * n + 10,000 draws
    without n problems, or 100,000 + 20 * (problems found) draws in a row without a new
    one (the split is exhausted: asking for a million problems fails in seconds, not
    minutes), TooFewProblems says how many were found and (`loosen`) what to relax, and
    carries them.
    """
    if split not in SPLITS:
        raise ValueError(f"split: {split!r} is invalid; accepted: {', '.join(SPLITS)}")
    check_knob(is_int(n) and n >= 0, "n", "an integer >= 0", n)
    exclude, require = set(exclude_skills), set(require_skills)
    rng = random.Random(f"{seed}:{split}")
    found: list[Problem] = []
    seen: set[str] = set()
    max_draws, draws, stale = 20 * n + 10_000, 0, 0
    while len(found) < n and draws < max_draws and stale < 100_000 + 20 * len(found):
        p = draw(rng)
        draws, stale = draws + 1, stale + 1
        if p is None or p.prompt in seen or split_of(p.prompt, test_percent) != split:
            continue
        skills = set(p.skills)
        if skills & exclude or not require <= skills:
            continue
        seen.add(p.prompt)
        found.append(p)
        stale = 0
    if len(found) == n:
        return found
    raise TooFewProblems(
        f"{task}: found only {len(found)} distinct {split} problems of the {n} asked for "
        f"in {draws} draws; ask for fewer, or loosen {loosen}"
        + (", exclude_skills or require_skills" if exclude or require else ""),
        found,
    )


_RESULT = re.compile(r"=([^=,#]*)")


def results_before_answer(completion: str) -> list[str]:
    """The text after each '=' (up to ',' '=' or '#'), before the last '#', stripped.

    "3+4=7,7*2=14#14" -> ["7", "14"]. Without '#', the whole completion is read, so a
    truncated completion still reports the steps it wrote.
    """
    body = completion.rsplit("#", 1)[0]
    return [m.strip() for m in _RESULT.findall(body)]
