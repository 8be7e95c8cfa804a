"""The README keeps its word: its examples (the bash blocks marked ``<!-- example -->``) run in order
with bash and curl against a served copy of ``make run``'s demo ledger (the Makefile's own seed and size)
and every request succeeds; its table of event types equals the command declarations (devtools.readme)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from uuid import UUID

import orjson
import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from api.main import create_app
from cli.main import app as cli_app
from devtools import readme
from tests.e2e.conftest import serving
from tests.integration.cli.test_make_run import demo_args

MARK = "<!-- example -->"
BLOCK = re.compile(r"^" + re.escape(MARK) + r"\n```bash\n(.*?)^```", re.M | re.S)
WRAPPER = 'curl() { command curl -sS --fail-with-body "$@"; echo; }\n'  # any 4xx/5xx stops the script


def examples() -> list[str]:
    return BLOCK.findall(readme.README.read_text(encoding="utf-8"))


def test_the_readme_lists_every_event_type_with_the_fields_the_api_takes() -> None:
    text = readme.README.read_text(encoding="utf-8")
    assert readme.rewritten(text) == text, "run: python -m devtools.readme"
    assert readme.main(["--check"]) == 0
    assert "| `pension_adjusted` | `/v1/retirees/{id}/events` | agency | previous_amount, new_amount," in text


def test_the_readme_examples_succeed_in_order_against_make_runs_demo(tmp_path: Path) -> None:
    for tool in ("bash", "curl"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is needed to run the README's examples")
    blocks = examples()
    assert len(blocks) >= 5 and any("/v1/batches" in b for b in blocks) and any("/v1/audit" in b for b in blocks)
    home = tmp_path / "home"
    env = {"LEDGER_HOME": str(home), "LEDGER_LOG": "sqlite", "COLUMNS": "200"}
    runner = CliRunner()
    assert runner.invoke(cli_app, ["keys", "init", "--if-missing"], env=env).exit_code == 0
    made = runner.invoke(cli_app, demo_args("run", "SEED=7"), env=env)  # the Makefile's size; its seed
    assert made.exit_code == 0, made.output
    with serving(create_app(dev_mode=True), home) as server:
        script = WRAPPER + "set -euo pipefail\n" + "\n".join(blocks) + '\necho "ID=$ID"\n'
        script = script.replace("localhost:8000", server.url.removeprefix("http://"))
        ran = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert ran.returncode == 0, f"a README example failed:\n{ran.stdout[-3000:]}\n{ran.stderr[-2000:]}"
        retiree = UUID(ran.stdout.rsplit("ID=", 1)[1].strip())
        batch = next(orjson.loads(line) for line in ran.stdout.splitlines() if line.startswith('{"appended"'))
        assert (batch["appended"], batch["failed"]) == (1, 0)
        state = orjson.loads(subprocess.run(["curl", "-sS", f"{server.url}/v1/retirees/{retiree}"],
                                            capture_output=True, check=True).stdout)
        assert (state["community"], state["monthly_pension"]) == ("CS-YL-901", "2907.00")
    workbook = load_workbook(tmp_path / "workload.xlsx", read_only=True)
    header = next(workbook.worksheets[0].iter_rows(values_only=True))
    assert header[:4] == ("community", "name", "city", "month")
