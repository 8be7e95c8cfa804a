"""``python -m devtools.browser install``: Debian's chromium and a Chinese font, installed only when missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from devtools import browser


def test_nothing_is_installed_when_chromium_and_a_chinese_font_are_there(monkeypatch: pytest.MonkeyPatch,
                                                                          tmp_path: Path) -> None:
    executable = tmp_path / "chromium"
    executable.touch()
    monkeypatch.setenv("LEDGER_CHROMIUM", str(executable))
    monkeypatch.setattr(browser, "has_chinese_font", lambda: True)
    monkeypatch.setattr(browser, "_run", lambda command: pytest.fail(f"ran {command}"))
    assert browser.install() == f"chromium already installed at {executable}, with a Chinese font"


def test_only_the_missing_font_is_installed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    executable = tmp_path / "chromium"
    executable.touch()
    ran: list[list[str]] = []
    monkeypatch.setenv("LEDGER_CHROMIUM", str(executable))
    monkeypatch.setattr(browser, "has_chinese_font", lambda: False)
    monkeypatch.setattr("devtools.browser.shutil.which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(browser, "_as_root", lambda command: command)
    monkeypatch.setattr(browser, "_run", ran.append)
    assert browser.install() == f"installed {browser.CHINESE_FONT_PACKAGE} with apt-get: {executable}"
    assert ran[-1][-2:] == ["--no-install-recommends", browser.CHINESE_FONT_PACKAGE]
    assert browser.PACKAGE not in ran[-1]


def test_a_missing_chromium_named_by_ledger_chromium_is_an_error(monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path: Path) -> None:
    monkeypatch.setenv("LEDGER_CHROMIUM", str(tmp_path / "absent"))
    with pytest.raises(browser.BrowserError, match="LEDGER_CHROMIUM names"):
        browser.install()
    assert browser.main(["install"]) == 1


def test_the_chinese_font_check_asks_fontconfig(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("devtools.browser.shutil.which", lambda name: None)
    assert browser.has_chinese_font() is False
