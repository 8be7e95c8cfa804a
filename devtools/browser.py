"""Debian's Chromium for the dashboard's browser tests (Playwright drives it; it never downloads a browser).

``python -m devtools.browser install`` installs the ``chromium`` package with apt when
``/usr/bin/chromium`` is missing, and a Chinese font (``fonts-wqy-microhei``) when fontconfig knows none
(the dashboard's labels are Chinese first; without one its screenshots show empty boxes), as root or
through ``sudo``; it prints one line saying what it did and exits 0, or exits 1 with a one-line reason.
:func:`chromium_path` is the executable the tests launch: ``LEDGER_CHROMIUM`` when set, else ``/usr/bin/chromium``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

DEBIAN_CHROMIUM = Path("/usr/bin/chromium")
PACKAGE = "chromium"
CHINESE_FONT_PACKAGE = "fonts-wqy-microhei"


class BrowserError(RuntimeError):
    """Chromium is missing and could not be installed."""


def chromium_path() -> Path:
    """The Chromium executable to drive: ``LEDGER_CHROMIUM`` if set, else Debian's ``/usr/bin/chromium``."""
    chosen = os.environ.get("LEDGER_CHROMIUM")
    return Path(chosen) if chosen else DEBIAN_CHROMIUM


def _as_root(command: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return command
    if shutil.which("sudo") is None:
        raise BrowserError("installing with apt-get needs root, and sudo is not available")
    return ["sudo", "-n", *command]


def _run(command: list[str]) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = [line for line in (done.stderr or done.stdout).splitlines() if line.strip()]
        raise BrowserError(f"`{' '.join(command)}` failed: {lines[-1] if lines else f'exit status {done.returncode}'}")


def has_chinese_font() -> bool:
    """Whether fontconfig lists a font covering Chinese (``fc-list :lang=zh``)."""
    if shutil.which("fc-list") is None:
        return False
    listed = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True, check=False)
    return listed.returncode == 0 and bool(listed.stdout.strip())


def install() -> str:
    """Installs Debian's chromium when the executable is missing, and a Chinese font when there is none;
    answers what was done (one line)."""
    path = chromium_path()
    if path != DEBIAN_CHROMIUM and not path.exists():
        raise BrowserError(f"LEDGER_CHROMIUM names {path}, which does not exist (unset it to use Debian's chromium)")
    missing = ([] if path.exists() else [PACKAGE]) + ([] if has_chinese_font() else [CHINESE_FONT_PACKAGE])
    if not missing:
        return f"chromium already installed at {path}, with a Chinese font"
    if shutil.which("apt-get") is None:
        raise BrowserError(f"{' and '.join(missing)} missing and apt-get is not available: install them, "
                           "or set LEDGER_CHROMIUM")
    env_prefix = ["env", "DEBIAN_FRONTEND=noninteractive"]
    _run(_as_root([*env_prefix, "apt-get", "update"]))
    _run(_as_root([*env_prefix, "apt-get", "install", "-y", "--no-install-recommends", *missing]))
    if not path.exists():
        raise BrowserError(f"apt-get installed {PACKAGE}, but {path} is still missing (set LEDGER_CHROMIUM)")
    return f"installed {' and '.join(missing)} with apt-get: {path}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.browser", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["install"])
    parser.parse_args(argv)
    try:
        print(install())
    except (BrowserError, OSError, subprocess.SubprocessError) as error:
        print(f"devtools.browser install: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
