"""Headless Chromium for `hashhop report --screenshot`: a PNG of the page as a browser draws it.

Chromium is an outside program, not a Python dependency: found on PATH (or $HASHHOP_CHROMIUM),
run with networking, sync and updates off, in a throwaway profile.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from hashhop.core.errors import BrowserError

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--mute-audio",
)


def find_chromium() -> str | None:
    """The Chromium binary: $HASHHOP_CHROMIUM, else the first of NAMES on PATH."""
    explicit = os.environ.get("HASHHOP_CHROMIUM")
    if explicit:
        return explicit if shutil.which(explicit) else None
    return next((path for name in NAMES if (path := shutil.which(name))), None)


def chromium_command(binary: str, profile: str, *extra: str) -> list[str]:
    return [binary, *FLAGS, f"--user-data-dir={profile}", *extra]


def screenshot(
    html_path: str | Path, png_path: str | Path, width: int = 1400, height: int = 2000, timeout_s: float = 120.0
) -> Path:
    """Draw `html_path` headless at width x height into `png_path`."""
    binary = find_chromium()
    if binary is None:
        raise BrowserError("no chromium found for --screenshot: apt-get install chromium (or set HASHHOP_CHROMIUM)")
    png = Path(png_path).resolve()
    with tempfile.TemporaryDirectory(prefix="hashhop-chromium-") as profile:
        cmd = chromium_command(
            binary,
            profile,
            f"--screenshot={png}",
            f"--window-size={width},{height}",
            Path(html_path).resolve().as_uri(),
        )
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired as exc:
            raise BrowserError(
                f"chromium took over {timeout_s:.0f} s to draw the page: retry, or drop --screenshot"
            ) from exc
    if done.returncode != 0 or not png.is_file():
        tail = (done.stderr or "").strip().splitlines()[-1:] or ["no output"]
        raise BrowserError(f"chromium failed to draw the page ({tail[0][:200]}): check the chromium install")
    return png
