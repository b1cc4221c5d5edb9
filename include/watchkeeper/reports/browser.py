"""Open a report in headless Chromium (Debian's `chromium`): its DOM as rendered, its console messages, a screenshot.

Used by the render test and the report benchmark to see the page as a person's browser does. Each call gets a
fresh profile directory and the flags that keep Chromium off the network (no sync, no component updates).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
]
_CONSOLE = re.compile(r"CONSOLE|Uncaught")


@dataclass
class Rendered:
    dom: str
    """The document after load, as Chromium serialises it."""
    console: list[str]
    """Console messages and uncaught script errors Chromium logged."""


def chromium() -> str | None:
    """Path of the Chromium binary, or None when it is not installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _run(args: list[str], timeout: float) -> subprocess.CompletedProcess:
    binary = chromium()
    if binary is None:
        raise FileNotFoundError("chromium is not installed (Debian: apt-get install -y chromium)")
    with tempfile.TemporaryDirectory(prefix="watchkeeper-chromium-") as profile:
        return subprocess.run(
            [binary, *FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def open_page(page: Path, timeout: float = 180) -> Rendered:
    """Load `page` and return its rendered DOM and console output."""
    done = _run(["--enable-logging=stderr", "--v=0", "--dump-dom", page.resolve().as_uri()], timeout)
    return Rendered(done.stdout, [line for line in done.stderr.splitlines() if _CONSOLE.search(line)])


def screenshot(page: Path, out: Path, width: int = 1200, height: int = 2000, timeout: float = 180) -> Path:
    """A PNG of the page's first `height` pixels at `width` pixels wide."""
    out.parent.mkdir(parents=True, exist_ok=True)
    _run(
        [f"--window-size={width},{height}", f"--screenshot={out.resolve()}", page.resolve().as_uri()], timeout
    )
    if not out.exists():
        raise RuntimeError(f"chromium wrote no screenshot of {page}")
    return out


def screenshot_url(url: str, out: Path, width: int = 1400, height: int = 900, wait_ms: int = 20_000) -> Path:
    """A PNG of a served page (e.g. the MLflow UI) after `wait_ms` of virtual time for its scripts and requests."""
    out.parent.mkdir(parents=True, exist_ok=True)
    _run([f"--window-size={width},{height}", f"--virtual-time-budget={wait_ms}", f"--screenshot={out.resolve()}", url],
         timeout=180)  # fmt: skip
    if not out.exists():
        raise RuntimeError(f"chromium wrote no screenshot of {url}")
    return out
