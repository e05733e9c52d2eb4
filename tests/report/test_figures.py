"""The verdict-at-a-glance figures: drawn from hand-made families in the shape report.json's
"inference" has (and its older shape), and placed first in report.html."""

import base64
import re

import pytest

from priorlab.report import FIGURES
from priorlab.report.figures import equivalence_intervals, gains_by_prior

PNG = b"\x89PNG\r\n\x1a\n"


def pair(a, b, diff, outcome, *, ci=0.01, tested=0.012, level=0.99, sign=None) -> dict:
    """A pair as inference.py writes it; ci/tested None: too few cells for that interval."""
    out = {"a": a, "b": b, "diff": diff, "outcome": outcome, "sign": sign}
    out |= {"lo": None, "hi": None} if ci is None else {"lo": diff - ci, "hi": diff + ci}
    if tested is None:
        return out | {"tested_lo": None, "tested_hi": None, "tested_level": None}
    return out | {"tested_lo": diff - tested, "tested_hi": diff + tested, "tested_level": level}


def cell(mean, half=0.02) -> dict:
    return {"mean": mean, "lo": None if half is None else mean - half,
            "hi": None if half is None else mean + half}  # fmt: skip


FAMILIES = [
    {
        "family": "refinement",
        "methods": ["dapo", "gfpo", "grpo"],
        "margin": 0.02,
        "pairs": [
            pair("dapo", "gfpo", 0.009, "inconclusive"),
            pair("dapo", "grpo", 0.008, "equivalent", ci=0.004, level=0.975, sign="dapo > grpo"),
            pair("gfpo", "grpo", -0.05, "different", ci=None, tested=None, sign="gfpo < grpo"),
        ],
        "gain": {m: cell(0.04) for m in ("dapo", "gfpo", "grpo")},
        "gain_by_prior": {
            "dapo": {"weak": cell(0.01), "strong": cell(0.05)},
            "gfpo": {"weak": cell(0.02, half=None), "strong": cell(0.04)},
            "grpo": {"weak": cell(-0.01)},
        },
        "prior_level": {"weak": 0.1, "strong": 0.6},
    },
    {  # one method: no pairs, one gain
        "family": "solo",
        "methods": ["ei"],
        "margin": 0.02,
        "pairs": [],
        "gain": {"ei": cell(0.03, half=None)},
        "gain_by_prior": {"ei": {"weak": cell(0.03, half=None)}},
    },
]
# the shape inference.py wrote before the tested intervals: bare means, no tested_*
OLDER = [
    {
        "family": "all",
        "methods": ["ei", "grpo"],
        "pairs": [
            {
                "a": "ei",
                "b": "grpo",
                "diff": -0.01,
                "lo": -0.03,
                "hi": 0.01,
                "outcome": "inconclusive",
                "sign": None,
            },
        ],  # fmt: skip
        "gain_by_prior": {"ei": {"A": 0.02, "B": 0.03}, "grpo": {"A": 0.03, "B": 0.05}},
    }
]


def is_png(text: str | None) -> bool:
    return text is not None and base64.b64decode(text).startswith(PNG)


@pytest.mark.parametrize(
    "families", [FAMILIES, OLDER, FAMILIES + OLDER], ids=["new", "old", "both"]
)
def test_figures_draw_every_shape(families):
    assert is_png(equivalence_intervals(families, 0.02))
    assert is_png(gains_by_prior(families))


def test_nothing_to_draw_is_none():
    assert equivalence_intervals([], 0.02) is None
    assert gains_by_prior([]) is None
    assert equivalence_intervals(FAMILIES[1:], 0.02) is None  # one method: no pair to draw
    assert is_png(gains_by_prior(FAMILIES[1:]))


def test_verdict_at_a_glance_opens_the_page(sweep, report):
    """fig-equivalence and fig-gain-by-prior come before the first table, the eta² figure
    after every other one."""
    page = (sweep / "report.html").read_text()
    ids = re.findall(r'<img id="([^"]+)"', page)
    assert ids[:2] == ["fig-equivalence", "fig-gain-by-prior"]
    support = ["fig-support-curves"]  # every sweep with initial and final tables has support
    assert sorted(ids) == sorted([fig_id for fig_id, _ in FIGURES] + support)
    table = page.index("<table>")
    assert page.index('id="fig-equivalence"') < table
    assert page.index('id="fig-gain-by-prior"') < table
    assert page.index("The verdict at a glance") < page.index('id="fig-equivalence"')
    assert page.index('id="protocol"') < page.index('id="fig-equivalence"')
    assert ids[-1] == "fig-variance"
