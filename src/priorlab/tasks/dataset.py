"""What dataset-backed tasks share: local files, sampling, numeric verification, steps.

Nothing is ever downloaded: a task reads the files it is given, or those under
$PRIORLAB_DATA. Unlike the synthetic tasks, prompts and solutions keep the dataset's
text (Unicode, newlines), so they suit a subword tokenizer rather than the character-level
model. A prompt is `template.format(question=...)`; the default "Question: {q}\\nAnswer:"
is lm-eval-harness's, and a solution starts with the space that follows "Answer:". With
template="{question}" the prompt is the raw question, ready for a chat template.
A problem's skills are the operators its gold calculation uses (+ - * /).

Splits: "test" is the dataset's own test split, untouched; "dev" is the ~10% of its train
split that `in_dev` picks by problem id, and "train" the rest, so the three are disjoint.
"""

from __future__ import annotations

import json
import os
import random
import re
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path

from priorlab.errors import ConfigError, DataError
from priorlab.tasks.answers import NUMBER, canonical_number, extract_number
from priorlab.tasks.base import (
    SPLITS,
    Problem,
    TooFewProblems,
    Verdict,
    check_knob,
    check_skills,
    digest,
    is_int,
)

OPERATORS = ("*", "+", "-", "/")
TEMPLATE = "Question: {question}\nAnswer:"
DATA_ENV = "PRIORLAB_DATA"
_ANNOTATION = re.compile(r"<<[^<>]*>>")
_STEP = re.compile(r"=\s*(" + NUMBER.pattern + ")")


def strip_annotations(text: str) -> str:
    """GSM8K calculator annotations removed: "= <<48/2=24>>24" -> "= 24"."""
    return _ANNOTATION.sub("", text)


def operators(expression: str) -> tuple[str, ...]:
    """Sorted distinct operators of a calculation: "(3.0 + 5.0) * 2" -> ("*", "+")."""
    return tuple(sorted(set(expression) & set(OPERATORS)))


def in_dev(problem_id: str) -> bool:
    """Whether a dataset's train problem is carved out as dev: sha1("dev:" + id) mod 10 == 0.

    About 10% of the train split, chosen by id alone: the same for every seed and file order.
    """
    return int(digest("dev:" + problem_id), 16) % 10 == 0


def data_path(path: str, subdir: str, expected: str) -> Path:
    """`path`, or $PRIORLAB_DATA/<subdir> when empty; ConfigError unless it exists.

    `expected` says what the path should hold, for the error message.
    """
    field = "task_params.path"
    if not path:
        root = os.environ.get(DATA_ENV)
        if not root:
            raise ConfigError(
                field, f"no path given and ${DATA_ENV} is unset; give path=DIR {expected}"
            )
        path = str(Path(root) / subdir)
    if not Path(path).exists():
        raise ConfigError(
            field, f"{path} does not exist; give path=DIR {expected} (nothing is downloaded)"
        )
    return Path(path)


def read_records(file: Path) -> Iterator[tuple[str, dict]]:
    """(where, record) for each row of a .jsonl or .parquet file; where is "file:line".

    For parquet the "line" is the 1-based row. Blank jsonl lines are skipped; a line that
    is not UTF-8, bad JSON or a row that is not an object raises DataError naming file and
    line.
    """
    if file.suffix == ".parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise DataError(
                f"{file}: reading parquet needs pyarrow (pip install pyarrow)"
            ) from None
        rows = enumerate(pq.read_table(file).to_pylist(), 1)
        yield from ((f"{file}:{i}", row) for i, row in rows)
        return
    with open(file, "rb") as f:
        for i, raw in enumerate(f, 1):
            line = decode_utf8(raw, file, line=i)
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(f"{file}:{i}: bad JSON ({e.msg})") from None
            if not isinstance(record, dict):
                raise DataError(f"{file}:{i}: expected a JSON object, got {type(record).__name__}")
            yield f"{file}:{i}", record


def decode_utf8(data: bytes, file: Path, *, line: int | None = None) -> str:
    """`data` decoded as UTF-8, or DataError naming the file, line and column of the bad byte.

    A file saved as latin-1 or cp1252 (an accented name, a pound sign) would otherwise fail
    with a UnicodeDecodeError naming neither. `data` is line `line` of `file` (jsonl), or
    without `line` the whole file, whose line is then counted.
    """
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = line or data.count(b"\n", 0, e.start) + 1
        column = e.start - data.rfind(b"\n", 0, e.start)
        raise DataError(
            f"{file}:{line}: not UTF-8 (byte 0x{data[e.start]:02x} at column {column}); "
            "save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)"
        ) from None


def field(record: dict, key: str, where: str, kind: type | tuple = str):
    """record[key], or DataError naming `where` when it is missing or not of `kind`."""
    if key not in record:
        raise DataError(
            f"{where}: missing field {key!r}; fields are {', '.join(map(repr, record))}"
        )
    value = record[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise DataError(f"{where}: field {key!r} is {type(value).__name__}, expected {names}")
    return value


class DatasetTask:
    """Shared behaviour; a subclass sets `name` and implements `_load(split)`."""

    name = "dataset"

    def __init__(self, template: str):
        try:
            ok = isinstance(template, str) and template.format(question="") is not None
        except (KeyError, IndexError, ValueError):
            ok = False
        check_knob(ok and "{question}" in template, "template", "text with {question}", template)
        self.template = template
        self._pools: dict[str, list[Problem]] = {}

    def _load(self, split: str) -> list[Problem]:
        """Every problem of the dataset's own `split` ("train" or "test"), in file order."""
        raise NotImplementedError

    def pool(self, split: str) -> list[Problem]:
        """Every problem of `split` (loaded once), without duplicate ids, in file order.

        "dev" and "train" divide the dataset's train split by `in_dev`; "test" is its own.
        """
        if split not in SPLITS:
            raise ValueError(f"split: {split!r} is invalid; accepted: {', '.join(SPLITS)}")
        if split not in self._pools:
            unique: dict[str, Problem] = {}
            for p in self._load("test" if split == "test" else "train"):
                unique.setdefault(p.id, p)  # a repeated question keeps its first copy
            problems = list(unique.values())
            if split != "test":  # dev is carved out of the train split
                problems = [p for p in problems if in_dev(p.id) == (split == "dev")]
            self._pools[split] = problems
        return self._pools[split]

    def problems(
        self,
        split: str,
        n: int,
        *,
        seed: int,
        exclude_skills: Iterable[str] = (),
        require_skills: Iterable[str] = (),
    ) -> list[Problem]:
        """n distinct problems of `split`: a seeded shuffle's first n (so smaller n, a prefix).

        TooFewProblems (a ValueError) when fewer than n problems exist (with those skills),
        naming how many do.
        """
        pool = self.pool(split)
        check_knob(is_int(n) and n >= 0, "n", "an integer >= 0", n)
        exclude, require = set(exclude_skills), set(require_skills)
        check_skills(exclude, require, enabled=OPERATORS, known=OPERATORS)
        pool = [p for p in pool if not set(p.skills) & exclude and require <= set(p.skills)]
        order = list(range(len(pool)))
        random.Random(f"{seed}:{split}").shuffle(order)
        if n > len(pool):
            which = " with those skills" if exclude or require else ""
            raise TooFewProblems(
                f"n: {self.name} has only {len(pool)} {split} problems{which}; asked {n}",
                [pool[i] for i in order],
            )
        return [pool[i] for i in order[:n]]

    def verify(self, problem: Problem, completion: str) -> Verdict:
        """The completion's final number (see `extract_number`) equals the gold answer."""
        answer = extract_number(completion)
        return Verdict(answer is not None and answer == problem.answer, answer, answer is not None)

    def whole_solution(self, problem: Problem, completion: str) -> None:
        """None: a word problem has many right reasonings; only the final answer is checked."""
        return None

    def steps(self, completion: str) -> list[str]:
        """The numbers right after each '=' before "####", canonical: "3*2 = $6" -> ["6"]."""
        body = strip_annotations(completion.split("####", 1)[0])
        return [canonical_number(m) or m for m in _STEP.findall(body)]

    def wrong_solution(self, problem: Problem, rng: random.Random) -> str:
        """The gold solution with its answer off by 1..3, in the last step and after "####"."""
        delta = rng.choice((-3, -2, -1, 1, 2, 3))
        wrong = canonical_number(format(Decimal(problem.answer) + delta, "f"))
        body = problem.solution.rsplit("####", 1)[0]
        last = [m for m in _STEP.finditer(body) if canonical_number(m.group(1)) == problem.answer]
        if last:
            start, end = last[-1].span(1)
            body = body[:start] + ("$" if "$" in last[-1].group(1) else "") + wrong + body[end:]
        return f"{body}#### {wrong}"
