"""report.md: the verdict (and one per level), then every table, as Markdown text in which
nothing a user named (a label, a sweep's name) can act as markup."""

from __future__ import annotations

import re

from priorlab.report.protocol import ADVICE, collapse_list
from priorlab.report.render import COLLAPSED, MARKS, TITLE, _collapsed, tables
from priorlab.report.render_inference import verdict_groups


def markdown(report: dict) -> str:
    """report.md: the verdict (and one per level), then every table; every text escaped
    (md), so labels and names from the spec cannot break a table or inject markup."""
    lines = [f"# {TITLE}", "", f"**Verdict:** {md(report['verdict_line'])}.", ""]
    lines += [f"**Protocol.** {ADVICE}.", ""]
    for check in report["protocol"]["checks"]:
        box, word, _ = MARKS[check["ok"]]
        lines.append(f"- {box} **{md(check['name'])}** ({word}): {md(check['detail'])}")
    lines.append("")
    if _collapsed(report):
        lines += [f"**{COLLAPSED}:** {md(collapse_list(_collapsed(report)))}.", ""]
    for title, items, _ in verdict_groups(report):  # the verdict's metric, then the other
        lines += [f"**{md(title)}:**", ""] + [f"- {md(line)}." for line in items] + [""]
    if report["levels"]:
        lines += ["**Per level:**", ""]
        lines += [f"- {md(level['verdict'])}." for level in report["levels"]] + [""]
    for title, header, rows in tables(report):
        lines += [f"## {md(title)}", "", "| " + " | ".join(map(md, header)) + " |"]
        lines.append("|" + "|".join("---" for _ in header) + "|")
        lines += ["| " + " | ".join(map(md, row)) + " |" for row in rows]
        lines.append("")
    return "\n".join(lines)


MD_ESCAPES = str.maketrans({"\\": "\\\\", "|": "\\|", "`": "\\`", "*": "\\*", "\n": " "})
TAG_START = re.compile(r"<(?=[A-Za-z/!?])")  # what could open an HTML tag ("a < b" cannot)


def md(text) -> str:
    """Text made literal in Markdown: no table cell split (|), no emphasis (*), no code (`),
    no HTML tag (<x), one line. Underscores stay (GitHub's Markdown ignores them inside
    words), and so does a comparison's "<"."""
    return TAG_START.sub("&lt;", str(text).translate(MD_ESCAPES))
