"""report.html renders offline in headless Chromium, and every figure in it loads."""

import os
import re
import subprocess
from pathlib import Path

import matplotlib.image
import pytest

from priorlab.report import FIGURES, support_figures

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium(tmp_path, name: str, *args: str) -> str:
    """Run headless Chromium with a fresh profile; returns its stdout."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing; CI must run the HTML rendering test")
        pytest.skip(f"{CHROMIUM} is not installed")
    profile = tmp_path / f"profile-{name}"
    done = subprocess.run(
        [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_html_is_self_contained(sweep, report):
    page = (sweep / "report.html").read_text()
    ids = re.findall(r'<img id="([^"]+)" alt="[^"]+" src="data:image/png;base64,', page)
    expected = [fig_id for fig_id, _ in FIGURES]
    expected.insert(-1, support_figures.CURVES[0])  # every sweep has support; variance last
    assert ids == expected
    assert not re.search(r'(src|href)="(https?:|//)', page)
    assert report["verdict"] in page


def test_chromium_screenshot_and_figures_load(tmp_path, sweep, report):
    url = (sweep / "report.html").as_uri()
    shot = tmp_path / "shot.png"
    chromium(tmp_path, "shot", f"--screenshot={shot}", "--window-size=1200,3000", url)
    assert shot.stat().st_size > 20_000
    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[:2] == (3000, 1200) and pixels.std() > 0.05

    dom = chromium(tmp_path, "dom", "--virtual-time-budget=5000", "--dump-dom", url)
    n_images = len(re.findall(r"<img\b", (sweep / "report.html").read_text()))
    assert n_images == len(FIGURES) + 1  # + the support curves
    loaded = re.search(r'data-images-loaded="(\d+)"', dom)
    assert loaded, "the page's load script did not run"
    assert int(loaded.group(1)) == n_images


def test_chromium_loads_the_protocol_report(tmp_path, protocol_sweep, protocol_report):
    """The checklist, the collapse warning and the budget figure render offline too."""
    url = (protocol_sweep / "report.html").as_uri()
    dom = chromium(tmp_path, "protocol", "--virtual-time-budget=5000", "--dump-dom", url)
    loaded = re.search(r'data-images-loaded="(\d+)"', dom)
    assert loaded and int(loaded.group(1)) == len(FIGURES) + 3  # + budget, ceiling, support
    assert '<ul class="protocol" id="protocol">' in dom and 'id="collapsed"' in dom
