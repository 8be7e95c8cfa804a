"""The dashboard driven in a real headless Chromium (Debian's, through Playwright)."""
