"""`gsm8k`: grade-school math word problems (Cobbe et al. 2021, arXiv 2110.14168), local files.

`path` is a directory in the Hugging Face layout, holding per split `<split>.jsonl`,
`<split>.parquet` or `<split>-*.parquet` (rows with `question` and `answer`, the answer's
last line "#### <number>"), or a single such file: then that file is the only split, "train"
when its name starts with "train", else "test". Without `path`, $PRIORLAB_DATA/gsm8k.
"dev" is carved out of the train split (see `dataset.in_dev`); test is the official one.

A problem's solution is the reference answer with the calculator annotations `<<48/2=24>>`
stripped, ending in "#### <answer>": the SFT target. Its answer is the canonical gold
number ("1,080" -> "1080"); its skills are the operators in the annotations.
"""

from __future__ import annotations

import re
from pathlib import Path

from priorlab.errors import ConfigError, DataError
from priorlab.tasks.answers import parse_gold
from priorlab.tasks.base import Problem, problem_id
from priorlab.tasks.dataset import (
    TEMPLATE,
    DatasetTask,
    data_path,
    field,
    operators,
    read_records,
    strip_annotations,
)

EXPECTED = "holding train.jsonl and test.jsonl (or <split>.parquet, <split>-*.parquet)"
_ANNOTATION_LHS = re.compile(r"<<([^<>=]*)=")


def make_problem(question: str, answer: str, *, where: str, template: str = TEMPLATE) -> Problem:
    """The problem for one GSM8K row; DataError naming `where` for a malformed answer."""
    if "####" not in answer:
        raise DataError(f"{where}: answer has no '#### <number>' line")
    reasoning, gold = answer.rsplit("####", 1)
    gold = parse_gold(gold.strip(), where=where)
    reasoning = strip_annotations(reasoning).rstrip()
    skills = operators("".join(_ANNOTATION_LHS.findall(answer)))
    solution = f" {reasoning}\n#### {gold}" if reasoning else f" #### {gold}"
    prompt = template.format(question=question)
    return Problem(problem_id("gsm8k", question), prompt, gold, solution, skills)


class GSM8K(DatasetTask):
    """GSM8K from local files: 7,473 train and 1,319 test problems in the official release.

    Of the 7,473, `in_dev` carves 728 out as dev, leaving 6,745 train.
    """

    name = "gsm8k"

    def __init__(self, path: str = "", template: str = TEMPLATE):
        """
        path: a directory with train/test files (see module doc), or one file; empty means
            $PRIORLAB_DATA/gsm8k. Nothing is downloaded.
        template: the prompt, with "{question}"; "{question}" alone for a chat template.
        """
        super().__init__(template)
        self.path = data_path(path, "gsm8k", EXPECTED)
        if self.path.is_dir() and not any(self._files(s) for s in ("train", "test")):
            raise ConfigError("task_params.path", f"{self.path} has no data files; {EXPECTED}")

    def _files(self, split: str) -> list[Path]:
        """The files of `split`: the first of the accepted names that exists."""
        if self.path.is_file():
            own = "train" if self.path.name.startswith("train") else "test"
            return [self.path] if split == own else []
        for pattern in (f"{split}.jsonl", f"{split}.parquet", f"{split}-*.parquet"):
            files = sorted(self.path.glob(pattern))
            if files:
                return files
        return []

    def _load(self, split: str) -> list[Problem]:
        files = self._files(split)
        if not files:
            where = "a single file holds one split" if self.path.is_file() else "it has none"
            if split == "train":
                where += "; dev is carved out of train"
            raise ConfigError(
                "task_params.path", f"no {split} split in {self.path} ({where}); {EXPECTED}"
            )
        out = []
        for file in files:
            rows = [
                make_problem(
                    field(row, "question", where),
                    field(row, "answer", where),
                    where=where,
                    template=self.template,
                )
                for where, row in read_records(file)
            ]
            if not rows:
                raise DataError(f"{file}: no problems in the file")
            out += rows
        return out
