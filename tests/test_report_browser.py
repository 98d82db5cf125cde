"""A report page rendered by headless Chromium: every image loads, the console stays silent, the screenshot is not blank.

Chromium is Debian's ``chromium``. When it is missing the setup installs it (``apt-get update`` then
``apt-get install chromium``, as root, e.g. on the CI's fresh machine); when that is impossible the
tests are skipped with the reason. A negative control (a page with a broken image and a console
error) shows that the probes do catch failures.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import numpy as np
import pytest

from test_report import make_segmented

pytestmark = pytest.mark.slow

PROBE = """<script>
window.addEventListener('load', function () {
  var im = Array.from(document.images);
  var bad = im.filter(function (i) { return !(i.complete && i.naturalWidth > 0); }).length;
  document.title = 'PROBE ' + im.length + ' ' + bad;
});
</script>"""


def _which() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _install() -> tuple[str | None, str]:
    """Install Debian's chromium with apt-get (root only); returns (executable or None, reason)."""
    if shutil.which("apt-get") is None:
        return None, "chromium is not installed and there is no apt-get to install it"
    if os.geteuid() != 0:
        return None, "chromium is not installed and installing it (apt-get install chromium) needs root"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]):
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return None, f"`{' '.join(cmd)}` failed ({exc.__class__.__name__})"
        if r.returncode != 0:
            tail = (r.stderr.strip().splitlines() or ["no output"])[-1]
            return None, f"`{' '.join(cmd)}` failed: {tail}"
    exe = _which()
    return exe, "" if exe else "apt-get installed chromium but no chromium executable is on PATH"


@pytest.fixture(scope="module")
def chromium() -> str:
    exe = _which()
    if exe is None:
        exe, why = _install()
        if exe is None:
            pytest.skip(f"headless Chromium unavailable: {why}")
    return exe


def run_chromium(exe: str, tmp_path, url_file, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / "chromium-profile"
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-dev-shm-usage",
           "--hide-scrollbars", f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
           "--virtual-time-budget=10000", *args, url_file.resolve().as_uri()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180)


def probe(exe: str, tmp_path, html: str) -> tuple[int, int, list[str]]:
    """(number of images, images not loaded, console lines) of ``html`` rendered with the probe script."""
    page = tmp_path / "probe.html"
    page.write_text(html.replace("</body>", PROBE + "\n</body>"))
    r = run_chromium(exe, tmp_path, page, "--dump-dom")
    m = re.search(r"<title>PROBE (\d+) (\d+)</title>", r.stdout)
    assert m, f"probe did not run (exit {r.returncode}): {r.stderr[-2000:]}"
    console = [ln for ln in r.stderr.splitlines() if ":CONSOLE" in ln]
    return int(m.group(1)), int(m.group(2)), console


def test_probe_catches_a_broken_image_and_a_console_error(chromium, tmp_path):
    one_pixel = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
    html = (f'<!DOCTYPE html><html><head><title>x</title></head><body><img src="data:image/png;base64,{one_pixel}">'
            '<img src="data:image/png;base64,AAAA"><script>console.error("probe-error")</script></body></html>')
    n, bad, console = probe(chromium, tmp_path, html)
    assert (n, bad) == (2, 1)
    assert any("probe-error" in ln for ln in console)


def test_report_page_renders_in_chromium(chromium, tmp_path):
    from PIL import Image as PILImage

    from fetalseg.report import write_reports

    _, seg = make_segmented(tmp_path)
    res = write_reports(seg, tmp_path / "report")
    for page in (res.pages["sub-02"], res.index):
        n, bad, console = probe(chromium, tmp_path, page.read_text())
        assert n >= 2 and bad == 0, (page, n, bad)
        assert console == [], console
    shot = tmp_path / "shot.png"
    r = run_chromium(chromium, tmp_path, res.pages["sub-02"], f"--screenshot={shot}", "--window-size=1200,1600")
    assert shot.exists(), r.stderr[-2000:]
    with PILImage.open(shot) as im:
        assert im.size == (1200, 1600)
        grey = np.asarray(im.convert("L"), np.float32)
        colours = len(set(map(tuple, np.asarray(im.convert("RGB")).reshape(-1, 3)[::7].tolist())))
    assert grey.std() > 20 and colours > 200  # text, tables and images, not a blank page
    assert 0.03 < np.mean(grey < 30) < 0.6  # the black mosaic backgrounds were drawn
    assert np.mean(grey > 240) > 0.2  # and the white page around them
