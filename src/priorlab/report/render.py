"""report.md and the self-contained report.html, both from the report dict's tables."""

from __future__ import annotations

import html
from collections.abc import Sequence

from priorlab.report import completeness
from priorlab.report.diagnostics import CONVERGENCE, VS_PRIOR, run_tables
from priorlab.report.protocol import ADVICE, collapse_list
from priorlab.report.render_inference import entropy_law_table, inference_tables, verdict_groups
from priorlab.report.sections import LEVEL_TERMS

TITLE = "priorlab sweep report"
ETA2 = "eta² of final pass@1 (biased upward for many-level factors; secondary)"

# Sets data-images-loaded / data-images-total on <body> once every figure has decoded, so a
# headless browser (chromium --dump-dom) can check that all figures load offline.
IMAGES_LOADED_SCRIPT = """<script>
window.addEventListener("load", function () {
  var images = document.images, loaded = 0;
  for (var i = 0; i < images.length; i++) {
    if (images[i].complete && images[i].naturalWidth > 0) { loaded++; }
  }
  document.body.dataset.imagesLoaded = String(loaded);
  document.body.dataset.imagesTotal = String(images.length);
});
</script>"""

STYLE = """<style>
body { font-family: sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.6em; text-align: right; }
th { background: #eee; } td:first-child, td:nth-child(2) { text-align: left; }
figure { margin: 1.5em 0; } img { max-width: 100%; }
.verdict { font-size: 1.2em; font-weight: bold; }
.protocol { list-style: none; padding-left: 0.5em; } .protocol .mark { font-weight: bold; }
.ok .mark { color: #1a7f37; } .fail .mark, .alert, td.alert { color: #b00020; }
.unknown .mark { color: #9a6700; } .alert, td.alert { font-weight: bold; }
</style>"""
COLLAPSED = "COLLAPSED below its prior"
STATUSES = (*CONVERGENCE, *VS_PRIOR)
ALERT = ' class="alert"'  # the table cell of a collapsed run
# check["ok"] -> (markdown box, word, html mark)
MARKS = {
    True: ("[x]", "ok", "\u2713"),
    False: ("[ ]", "FAIL", "\u2717"),
    None: ("[ ]", "not measured", "?"),
}


def _num(value, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _ci(cell: dict | None, key: str = "mean") -> str:
    if cell is None:
        return "n/a"
    return f"{cell[key]:.3f} [{cell['lo']:.3f}, {cell['hi']:.3f}]"


def tables(report: dict) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) of every table of the report, as strings."""
    n = report["n_samples"]
    headline = [
        [
            row["algo"],
            row["prior"],
            str(len(row["seeds"])),
            *(_ci(row.get(m)) for m in ("pass@1", "greedy", "maj@n", "pass@n", "entropy")),
        ]
        for row in report["headline"]
    ]
    levels = [
        [
            level["level"],
            level["factor"],
            str(level["n_runs"]),
            *(_ci(level["shares"].get(term), "share") for term in LEVEL_TERMS),
        ]
        for level in report["levels"]
    ]
    variance = []
    for term in ("algo", "prior", "interaction", "seed"):
        cells = [report[key]["shares"].get(term) for key in ("variance", "variance_rl")]
        variance.append([term, *(_ci(cell, "share") for cell in cells)])
    pairwise = [
        [
            row["a"],
            row["b"],
            str(row["n_pairs"]),
            _num(row["diff"]),
            "n/a" if row["lo"] is None else f"[{row['lo']:.3f}, {row['hi']:.3f}]",
            _num(row["p"], 4),
            _num(row["p_holm"], 4),
        ]
        for row in report["pairwise"]
    ]
    crossover = {(c["algo"], c["prior"]): c["crossover_k"] for c in report["pass_at_k"]["curves"]}
    selection = [
        [
            row["algo"],
            row["prior"],
            _num(row["share_already_solved"]),
            _num(row["new_mean"], 2),
            "never"
            if crossover.get((row["algo"], row["prior"])) is None
            else str(crossover[(row["algo"], row["prior"])]),
        ]
        for row in report["selection"]
    ]
    entropy = [
        [
            algo,
            _num(fit["a"]),
            _num(fit["b"]),
            _num(fit["ceiling"]),
            _num(fit["r2"]),
            str(fit["n_points"]),
        ]
        for algo, fit in sorted(report["entropy"].items())
    ]
    truth = [
        [
            row["algo"],
            str(row["n_runs"]),
            f"{_num(row['reward_first'])} -> {_num(row['reward_last'])}",
            f"{_num(row['accuracy_first'])} -> {_num(row['accuracy_last'])}",
            "yes" if row["diverges"] else "",
        ]
        for row in report.get("reward_vs_accuracy", [])
    ]
    level_table = (
        f"Levels: share of the variance in pass@1 within each level's runs [95% CI]: {ETA2}",
        ["level", "varies", "runs", *LEVEL_TERMS],
        levels,
    )
    return [
        (
            f"Headline: final metrics, mean [95% CI] over seeds and problems (n = {n})",
            ["algo", "prior", "seeds", "pass@1", "greedy", f"maj@{n}", f"pass@{n}", "entropy"],
            headline,
        ),
        *inference_tables(report),
        *([level_table] if levels else []),
        (
            f"Variance of pass@1: share of SS_total [95% CI]: {ETA2}",
            ["term", "all algorithms", "RL only (no sft)"],
            variance,
        ),
        *budget_table(report.get("verdict_vs_budget")),
        (
            "Pairwise: difference a - b in final pass@1, pooled over priors",
            ["a", "b", "pairs", "diff", "95% CI", "p", "p (Holm)"],
            pairwise,
        ),
        (
            f"Selection or discovery: of the problems the policy solves (pass@{n} > 0), "
            "the share its prior already solved, the new ones, and the k from which the "
            "prior's pass@k catches up (Yue et al. 2025)",
            ["algo", "prior", "already solved", "new (mean)", "prior catches up at k"],
            selection,
        ),
        (
            "Entropy and reward over training: R = -a exp(H) + b (Cui et al. 2025)",
            ["algo", "a", "b", "ceiling b - a", "R^2", "points"],
            entropy,
        ),
        *entropy_law_table(report),
        (
            "What training optimised and the truth: reward/mean and the verifier's "
            "task/accuracy, first -> last training step (mean over runs)",
            ["algo", "runs", "reward", "accuracy", "reward up, accuracy down"],
            truth,
        ),
        *protocol_tables(report),
    ]


def _pct(value) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _pair(pair: list | None) -> str:
    return "" if pair is None else f" [{pair[0]:+.3f}, {pair[1]:+.3f}]"


def _params(params: dict) -> str:
    return ", ".join(f"{name}={value}" for name, value in sorted(params.items())) or "defaults"


def budget_table(section: dict | None) -> list[tuple[str, list[str], list[list[str]]]]:
    """The verdict against the budget, or nothing when no run logged a dev curve."""
    if section is None:
        return []
    terms = ("algo", "prior", "interaction", "seed")
    rows = [
        [f"{p['samples']:g}", _num(p["mean"]), *(_pct(p["shares"][t]) for t in terms)]
        for p in section["points"]
    ]
    missing = len(section["without_dev"])
    left_out = f"; {missing} without a dev curve left out" if missing else ""
    title = (
        "Verdict against the budget: share of the variance in dev pass@1 at each checkpoint "
        f"({section['n_runs']} runs{left_out}; point estimates)"
    )
    return [(title, ["completions", "mean dev pass@1", *terms], rows)]


def protocol_tables(report: dict) -> list[tuple[str, list[str], list[list[str]]]]:
    """Clipping, run status (with its counts) and, for a tuned sweep, the tuning record."""
    any_clip = any(row["active"] is not None for row in report["clipping"])
    clipping = [
        [
            row["algo"],
            str(row["n_runs"]),
            *(_pct(row[k]) for k in ("clipfrac_low", "clipfrac_high", "clipfrac")),
            _num(row["updates"], 2),
            {True: "yes", False: "NO: the clip never binds"}.get(row["active"])
            or ("no clipped loss" if any_clip else "not measured"),
        ]
        for row in report["clipping"]
    ]
    status = [
        [
            row["run_id"],
            row["algo"],
            row["prior"],
            str(row["seed"]),
            row["convergence"] or "not measured",
            "n/a" if row["change"] is None else f"{row['change']:+.3f}{_pair(row['ci'])}",
            row["vs_prior"] or "not measured",
            "n/a" if row["gain"] is None else f"{row['gain']:+.3f}{_pair(row['gain_ci'])}",
            COLLAPSED if row["vs_prior"] == "collapsed" else "",
        ]
        for row in report["run_status"]
    ]
    found = {name for counts in report["status_counts"].values() for name in counts}
    names = [*STATUSES, *sorted(found - set(STATUSES))]
    counts = [
        [algo, *(str(c.get(name, 0)) for name in names)]
        for algo, c in report["status_counts"].items()
    ]
    out = [
        (
            "Clipping: share of response tokens where the PPO clip binds (low: A < 0, ratio "
            "< 1 - eps; high: A > 0, ratio > 1 + eps), mean over steps then runs",
            ["algo", "runs", "low", "high", "total", "updates per batch", "active"],
            clipping,
        ),
        (
            "Run status: dev pass@1 over the plateau window (the last third of the budget, or "
            "the last 5 dev points; change [95% CI]) and final minus initial test pass@1 "
            "(gain [95% CI]; collapsed: more than the margin below the prior, Holm across "
            "the sweep's runs)",
            ["run", "algo", "prior", "seed", "convergence", "change", "vs prior", "gain", "flag"],
            status,
        ),
        *run_tables(report),
    ]
    if any(row["convergence"] or row["vs_prior"] for row in report["run_status"]):
        out.append(("Run status counts per algorithm", ["algo", *names], counts))
    if report["tuning"]:
        rows = [
            [
                t["algo"],
                t["prior"],
                t["reward"] or "",
                _params(c["params"]),
                "" if c["seed"] is None else str(c["seed"]),
                _num(c["score"]),
                _num(c.get("se")),
                c["status"],
                _chosen(t) if c["params"] == t["chosen"] else "",
            ]
            for t in report["tuning"]
            for c in t["candidates"]
        ]
        rules = sorted({t["rule"] for t in report["tuning"] if t["rule"]})
        title = "Tuning: hyper-parameter candidates and their dev score"
        title += f" (rule: {'; '.join(rules)})" if rules else ""
        header = ["algo", "prior", "reward", "candidate", "seed", "score", "se", "status", "chosen"]
        out.append((title, header, rows))
    return out + completeness.tables(report.get("completeness"))


def _chosen(entry: dict) -> str:
    """'chosen', with the grid edges it sits on ('chosen; lr top edge, beyond noise')."""
    edges = [
        f"{e['field']} {e['side']} edge" + (", beyond noise" if e["beyond"] else "")
        for e in entry.get("edges", [])
    ]
    return "; ".join(["chosen", *edges])


def _collapsed(report: dict) -> list[dict]:
    return [row for row in report["run_status"] if row["vs_prior"] == "collapsed"]


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    cell = lambda c: f"<td{ALERT if c == COLLAPSED else ''}>{html.escape(c)}</td>"
    body = "".join("<tr>" + "".join(cell(c) for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _inference_verdicts(report: dict) -> list[str]:
    """The per-family verdict lines on the gain per metric, or nothing when there are none."""
    out = []
    for title, lines, html_id in verdict_groups(report):
        items = "".join(f"<li>{html.escape(line)}.</li>" for line in lines)
        out += [
            f"<p>{html.escape(title)}:</p>",
            f'<ul class="inference" id="{html_id}">{items}</ul>',
        ]
    return out


def _level_verdicts(levels: list[dict]) -> list[str]:
    """The per-level verdicts as one HTML list, or nothing for a sweep without levels."""
    if not levels:
        return []
    items = "".join(f"<li>{html.escape(level['verdict'])}.</li>" for level in levels)
    return [f'<ul class="levels" id="level-verdicts">{items}</ul>']


def _protocol_html(report: dict) -> list[str]:
    """The checklist under the verdict, and a warning naming the collapsed runs."""
    items = []
    for check in report["protocol"]["checks"]:
        _, word, mark = MARKS[check["ok"]]
        kind = {True: "ok", False: "fail", None: "unknown"}[check["ok"]]
        items.append(
            f'<li class="{kind}"><span class="mark">{mark} {word}</span> '
            f"<b>{html.escape(check['name'])}</b>: {html.escape(check['detail'])}</li>"
        )
    parts = [
        f"<p>{html.escape(ADVICE)}.</p>",
        f'<ul class="protocol" id="protocol">{"".join(items)}</ul>',
    ]
    if _collapsed(report):
        text = f"{COLLAPSED}: {collapse_list(_collapsed(report))}."
        parts.append(f'<p class="alert" id="collapsed">{html.escape(text)}</p>')
    return parts


def _figure_html(fig_id: str, caption: str, png: str | None) -> str:
    """One figure as an inline PNG, or a line saying it had no data."""
    text = html.escape(caption)
    if png is None:
        return f"<p>{text}: no data.</p>"
    return (
        f'<figure><img id="{fig_id}" alt="{text}" src="data:image/png;base64,{png}">'
        f"<figcaption>{text}</figcaption></figure>"
    )


Figure = tuple[str, str, str | None]  # (img id, caption, base64 PNG or None)


def page(report: dict, figures: Sequence[Figure], leading: Sequence[Figure] = ()) -> str:
    """report.html with no external resources: the verdict, the protocol checklist, the
    verdict lines, the leading figures ("The verdict at a glance"), the tables, then the
    other figures, in the order given."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{TITLE}</title>",
        STYLE,
        "</head><body>",
        f"<h1>{TITLE}</h1>",
        f'<p class="verdict" id="verdict">{html.escape(report["verdict_line"])}.</p>',
        *_protocol_html(report),
        *_inference_verdicts(report),
        *_level_verdicts(report["levels"]),
        f"<p>{len(report['runs'])} finished runs, {report['n_problems']} test problems, "
        f"{report['n_samples']} samples per problem, {report['n_boot']} bootstrap draws.</p>",
    ]
    if leading:
        parts.append('<h2 id="at-a-glance">The verdict at a glance</h2>')
        parts += [_figure_html(*figure) for figure in leading]
    for title, header, rows in tables(report):
        parts += [f"<h2>{html.escape(title)}</h2>", _html_table(header, rows)]
    parts.append("<h2>Figures</h2>")
    parts += [_figure_html(*figure) for figure in figures]
    parts += [IMAGES_LOADED_SCRIPT, "</body></html>", ""]
    return "\n".join(parts)
