"""CSV cells safe to open in a spreadsheet: text a spreadsheet would read as a formula gets a
leading apostrophe; numbers, negative ones included, are written as they are."""

from datetime import date
from decimal import Decimal

import pytest

from trialsite.csv_cells import safe_cell


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+2", "'+1+2"),
        ("-cmd|' /C calc'!A0", "'-cmd|' /C calc'!A0"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tTab", "'\tTab"),
        ("\r=1+1", "'\r=1+1"),
        ("-12", "-12"),
        ("-0.5", "-0.5"),
        (-3, "-3"),
        (Decimal("-2.5"), "-2.5"),
        ("Knee swelling", "Knee swelling"),
        (True, "Y"),
        (None, ""),
        (date(2026, 1, 2), "2026-01-02"),
    ],
)
def test_owasp_csv_injection_a_cell(value, cell):
    assert safe_cell(value) == cell
