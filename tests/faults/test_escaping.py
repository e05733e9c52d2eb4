"""What is shown escapes what it embeds (issue 27): labels and names a user gives (a sweep's
name, prior and algorithm labels) reach report.md, report.html, the figures and the
terminal as text, never as markup.

Before: a label `A|<b>*$\\frac{x$[/]` made the report's figures end in a matplotlib
ParseSyntaxException traceback (mathtext), split report.md's table cells at the `|`,
opened HTML in report.md; a sweep named with `[/]` ended rich's terminal line in a
MarkupError.
"""

import json

from priorlab.report import build_report
from tests.faults.conftest import cli, write_spec
from tests.report.conftest import write_sweep

NASTY = {"A": "A|<b>*$\\frac{x$[/]`_", "B": "B$<script>alert(1)</script>"}
ALGO = "e|i<u>$[red]"


def test_labels_with_markup_reach_every_report_file_as_text(tmp_path):
    write_sweep(tmp_path, protocol=True)
    for path in tmp_path.glob("runs/*/cell.json"):
        cell = json.loads(path.read_text())
        cell["prior"] = NASTY.get(cell["prior"], cell["prior"])
        cell["algo"] = ALGO if cell["algo"] == "ei" else cell["algo"]
        path.write_text(json.dumps(cell))
    build_report(tmp_path)  # the figures draw $...$ as dollars, not as mathtext
    md = (tmp_path / "report.md").read_text()
    page = (tmp_path / "report.html").read_text()
    for text in (md, page):
        assert "<script>alert" not in text and "<b>*" not in text and "<u>$" not in text
    assert "B$&lt;script>alert(1)&lt;/script>" in md and "e\\|i&lt;u>$[red]" in md
    for line in md.splitlines():  # every table row keeps its header's number of cells
        if line.startswith("| ") and "e\\|i" in line:
            assert line.replace("\\|", "").count("|") == md_header_cells(md, line) + 1
    assert "B$&lt;script&gt;alert(1)&lt;/script&gt;" in page


def md_header_cells(md: str, row: str) -> int:
    """The number of cells of the table `row` belongs to (its header, above it)."""
    lines = md.splitlines()
    i = lines.index(row)
    while not lines[i - 1].startswith("|---"):
        i -= 1
    return lines[i - 2].replace("\\|", "").count("|") - 1


def test_a_sweep_named_with_markup_prints_it_as_text(tmp_path, small_spec):
    small_spec["name"] = "s[/]<b>[red]"
    small_spec["priors"][0]["label"] = "p[/]$x$"
    done = cli("compare", write_spec(tmp_path / "spec.yaml", small_spec), "--out", tmp_path / "o")
    assert done.returncode == 0, done.stderr
    assert "s[/]<b>[red]: 1 prior" in done.stderr
    assert "verdict" in done.stderr and "MarkupError" not in done.stderr
