"""Open the report in real headless Chromium: every plot renders, no JavaScript error."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from grokinterp.report import build_report

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.e2e


def _find_chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium, which `make test` installs; without it the test is skipped."""
    found = _find_chromium()
    if found is None:
        pytest.skip("chromium is not installed (`make install` installs it as root; Debian: apt-get install chromium)")
    return found


def test_report_renders_in_headless_chromium(grokked_run, tmp_path, chromium):
    out = build_report(grokked_run.path, tmp_path / "report.html", progress=False)
    n_figures = out.read_text().count("Plotly.newPlot")
    proc = subprocess.run(
        [chromium, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
         "--virtual-time-budget=20000", "--dump-dom", out.as_uri()],
        capture_output=True, text=True, timeout=180,
    )
    dom = proc.stdout
    rendered = len(re.findall(r'<div[^>]*class="[^"]*plot-container plotly', dom))
    assert n_figures > 5 and rendered == n_figures, (rendered, n_figures, proc.stderr[-2000:])
    console_errors = [ln for ln in proc.stderr.splitlines() if "CONSOLE" in ln and ("Uncaught" in ln or "Error" in ln)]
    assert not console_errors, console_errors
