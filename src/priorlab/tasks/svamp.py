"""`svamp`: one-step arithmetic word problems (Patel et al. 2021, arXiv 2103.07191), local file.

`path` is SVAMP.json (a JSON list of objects with ID, Body, Question, Equation, Answer,
Type) or a directory holding it; without `path`, $PRIORLAB_DATA/svamp. SVAMP has no
official train split: a problem is "test" when the sha1 of its question text (Body + " " +
Question) falls in the first `test_percent` of 100 buckets (`held_out`), so the split
depends on nothing but the text; "dev" is carved out of the rest as for every dataset
(`in_dev`). At 30%: 660 train / 61 dev / 279 test of the 1,000 problems.

The prompt's question is Body + " " + Question. The solution is the equation with its
value, numbers canonical: "( 76.0 - 25.0 )", 51.0 -> " ( 76 - 25 ) = 51 #### 51".
"""

from __future__ import annotations

import json
import re

from priorlab.errors import ConfigError, DataError
from priorlab.tasks.answers import canonical_number, parse_gold
from priorlab.tasks.base import Problem, check_knob, held_out, is_int, problem_id
from priorlab.tasks.dataset import (
    TEMPLATE,
    DatasetTask,
    data_path,
    decode_utf8,
    field,
    operators,
)

EXPECTED = "holding SVAMP.json, or the .json file itself"
_PLAIN_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")


def question_text(row: dict, *, where: str) -> str:
    """Body + " " + Question: the text that is hashed for the id and the split."""
    return f"{field(row, 'Body', where).strip()} {field(row, 'Question', where).strip()}"


def make_problem(row: dict, *, where: str, template: str = TEMPLATE) -> Problem:
    """The problem for one SVAMP entry; DataError naming `where` when a field is malformed."""
    question = question_text(row, where=where)
    equation = field(row, "Equation", where).strip()
    if not _PLAIN_NUMBER.search(equation):
        raise DataError(f"{where}: Equation {equation!r} has no number")
    answer = parse_gold(str(field(row, "Answer", where, (int, float))), where=where)
    equation = _PLAIN_NUMBER.sub(lambda m: canonical_number(m.group()) or m.group(), equation)
    solution = f" {equation} = {answer} #### {answer}"
    prompt = template.format(question=question)
    return Problem(problem_id("svamp", question), prompt, answer, solution, operators(equation))


class SVAMP(DatasetTask):
    """SVAMP's 1,000 problems, split deterministically by hashes of the question."""

    name = "svamp"

    def __init__(self, path: str = "", template: str = TEMPLATE, test_percent: int = 30):
        """
        path: SVAMP.json or a directory holding it; empty means $PRIORLAB_DATA/svamp.
        template: the prompt, with "{question}"; "{question}" alone for a chat template.
        test_percent: share of the problems (by question hash) in the test split (1..99);
            dev is about 10% of the rest.
        """
        super().__init__(template)
        check_knob(
            is_int(test_percent) and 0 < test_percent < 100,
            "test_percent",
            "an integer 1..99",
            test_percent,
        )
        self.test_percent = test_percent
        path_ = data_path(path, "svamp", EXPECTED)
        self.file = path_ / "SVAMP.json" if path_.is_dir() else path_
        if not self.file.is_file():
            raise ConfigError("task_params.path", f"{self.file} does not exist; {EXPECTED}")
        self._all: list[tuple[bool, Problem]] | None = None

    def _load(self, split: str) -> list[Problem]:
        if self._all is None:
            self._all = [(held_out(q, self.test_percent), p) for q, p in self._read()]
        return [p for test, p in self._all if test == (split == "test")]

    def _read(self) -> list[tuple[str, Problem]]:
        """(question text, problem) for every entry, in file order."""
        text = decode_utf8(self.file.read_bytes(), self.file)
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as e:
            raise DataError(f"{self.file}:{e.lineno}: bad JSON ({e.msg})") from None
        if not isinstance(rows, list) or not rows:
            raise DataError(f"{self.file}: expected a non-empty JSON list of problems")
        out = []
        for i, row in enumerate(rows):
            where = f"{self.file}: entry {i}"
            if not isinstance(row, dict):
                raise DataError(f"{where}: expected a JSON object, got {type(row).__name__}")
            where += f" (ID {row.get('ID', '?')})"
            problem = make_problem(row, where=where, template=self.template)
            out.append((question_text(row, where=where), problem))
        return out
