"""The README's Python example of the API runs as written, against a live server, and writes
the participant × visit analysis file of the token user's sites."""

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests import factories
from tests.helpers import add_vas
from trialsite.accounts import services

pytestmark = pytest.mark.django_db(transaction=True)

README = Path(__file__).resolve().parents[2] / "README.md"


def python_example() -> str:
    text = README.read_text()
    (code,) = re.findall(r"<!-- api-example-python -->\n```python\n(.*?)```", text, re.S)
    return code


def test_the_readme_python_example_pulls_the_analysis_file(
    live_server, tmp_path, monitor, coordinator, lahore, islamabad, outsider
):
    ours = [factories.participant_with_visits(site=lahore, by=coordinator) for _ in range(3)]
    add_vas(ours[0], "M0", 61, coordinator)
    factories.participant_with_visits(site=islamabad, by=outsider)
    _, secret = services.create_api_token(name="analysis", scope="read", days=7, by=monitor)

    result = subprocess.run(
        [sys.executable, "-c", python_example()],
        cwd=tmp_path,
        env={**os.environ, "TRIALSITE_URL": live_server.url, "TRIALSITE_TOKEN": secret},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    with open(tmp_path / "analysis_visits.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert result.stdout.strip() == f"{len(rows)} rows"
    assert {r["participant_id"] for r in rows} == {p.participant_id for p in ours}  # not ISB
    baseline = next(
        r for r in rows if r["participant_id"] == ours[0].participant_id and r["visit"] == "M0"
    )
    assert float(baseline["vas_pain_mm"]) == 61 and "arm" in rows[0]
