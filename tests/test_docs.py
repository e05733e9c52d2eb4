"""The documentation: the site builds strictly, the README's links resolve, the config
fields page is what `priorlab fields` prints, every results page says where its figures
came from, and no page points outside the repository."""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from priorlab.cli import app

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.rglob("*.md"))
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
OUTSIDE = ["../shared", "RESEARCH.md", "/work/"]


def _gen_fields():
    spec = importlib.util.spec_from_file_location("gen_fields", DOCS / "gen_fields.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _flat(text: str) -> str:
    """Help text without rich's box characters and line breaks."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


def test_the_site_builds_strictly(tmp_path):
    pytest.importorskip("mkdocs", reason="mkdocs not installed: pip install -e '.[docs]'")
    pytest.importorskip("mkdocstrings", reason="mkdocstrings not installed: pip install '.[docs]'")
    pytest.importorskip("material", reason="mkdocs-material not installed: pip install '.[docs]'")
    site = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (site / "index.html").is_file()
    assert (site / "reference" / "index.html").is_file()


def test_the_fields_page_is_what_priorlab_fields_prints():
    gen = _gen_fields()
    page = (DOCS / "guide" / "fields.md").read_text()
    assert page == gen.render(), "docs/guide/fields.md is stale: run python docs/gen_fields.py"
    for command in gen.COMMANDS:
        out = CliRunner().invoke(app, ["fields", command])
        assert out.exit_code == 0, out.output
        assert f"```text\n{out.output.rstrip()}\n```" in page, command


def test_the_readme_links_resolve():
    text = (ROOT / "README.md").read_text()
    targets = [t for t in LINK.findall(text) if not t.startswith(("http://", "https://", "#"))]
    assert targets, "README.md links to no page"
    for target in targets:
        assert (ROOT / target.split("#")[0]).exists(), f"README.md: {target} does not exist"


def test_the_readme_fits_on_three_screens():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 160


@pytest.mark.parametrize("path", [ROOT / "README.md", *PAGES], ids=lambda p: p.name)
def test_no_page_points_outside_the_repository(path):
    text = path.read_text()
    for needle in OUTSIDE:
        assert needle not in text, f"{path.relative_to(ROOT)} mentions {needle}"


@pytest.mark.parametrize(
    "path",
    [p for p in sorted((DOCS / "results").glob("*.md")) if p.name != "index.md"],
    ids=lambda p: p.name,
)
def test_every_results_page_says_where_its_figures_came_from(path):
    text = path.read_text()
    for stamp in ["**Command**", "**Commit**", "**Machine**", "**Date**"]:
        assert stamp in text, f"{path.name}: no {stamp}"
    if path.name not in {"benchmarks.md", "quickstart.md"}:  # speed: no protocol
        assert "**Protocol**" in text, f"{path.name}: no **Protocol**"


def test_every_results_page_is_in_the_index():
    index = (DOCS / "results" / "index.md").read_text()
    for path in (DOCS / "results").glob("*.md"):
        if path.name != "index.md":
            assert f"]({path.name})" in index, path.name


@pytest.mark.parametrize("command", ["pretrain", "train", "eval"])
def test_each_commands_help_points_to_its_fields(command):
    out = CliRunner().invoke(app, [command, "--help"], terminal_width=200)
    assert out.exit_code == 0
    assert f"priorlab fields {command}" in _flat(out.output)


def test_the_top_level_help_points_to_the_fields():
    out = CliRunner().invoke(app, ["--help"], terminal_width=200)
    assert "priorlab fields pretrain|train|eval" in _flat(out.output)
