"""One customer's amount beyond what the columns hold never stops the batch, and what is
compared is what is stored, on every database (issue 12, defect 1)."""

from __future__ import annotations

import asyncio
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from balmon.engine import RunRequest, VerificationRun
from balmon.money import OutOfRange, storable
from balmon.storage.schema import error_logs, verification_results
from tests.conftest import on_backends
from tests.engine.fakes import ScriptedSource
from tests.engine.helpers import fast_settings, write_customers

DAY = date(2026, 11, 20)


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("0.9999995", "1.000000"),
        ("-0.0000004", "0.000000"),
        ("12.5", "12.500000"),
        ("999999999999999999.999999", "999999999999999999.999999"),
        ("-999999999999999999.9999994", "-999999999999999999.999999"),
    ],
)
def test_an_amount_is_kept_to_six_places(given: str, kept: str) -> None:
    assert str(storable(Decimal(given))) == kept


@pytest.mark.parametrize(
    "given", ["1E+18", "-1E+18", "999999999999999999.9999995", "1E+999", "Infinity", "NaN"]
)
def test_an_amount_beyond_the_columns_is_refused(given: str) -> None:
    with pytest.raises(OutOfRange):
        storable(Decimal(given))


@on_backends()
def test_a_huge_balance_or_minimum_is_that_customers_problem_only(
    engine: Engine, tmp_path: Path
) -> None:
    path = write_customers(
        tmp_path / "c.csv",
        [("OK1", "1"), ("HUGE", "1"), ("TIE", "1"), ("MIN", "1e999"), ("OK2", "0")],
    )
    source = ScriptedSource(
        {"HUGE": [Decimal("1E+18")], "TIE": [Decimal("0.9999995")]}, default=Decimal("5")
    )
    settings = fast_settings(engine.url.render_as_string(hide_password=False))
    run = VerificationRun(settings=settings, engine=engine, source=source)
    summary = asyncio.run(run.execute(RunRequest(DAY, "normal", path)))
    assert summary.total == 4  # MIN was refused as a line of the file
    with engine.connect() as c:
        results = {
            r.customer_id: r
            for r in c.execute(
                select(verification_results).where(verification_results.c.business_date == DAY)
            )
        }
        codes = {
            (e.customer_id, e.error_code)
            for e in c.execute(select(error_logs).where(error_logs.c.business_date == DAY))
        }
    assert results["OK1"].status == "PASS" and results["OK2"].status == "PASS"
    assert (results["HUGE"].status, results["HUGE"].error_code) == (
        "UNAVAILABLE",
        "INVALID_RESPONSE",
    )
    # Rounded before the comparison, as stored: 0.9999995 is 1.000000, not below 1.
    assert (results["TIE"].status, results["TIE"].balance) == ("PASS", Decimal("1.000000"))
    assert ("HUGE", "INVALID_RESPONSE") in codes and ("MIN", "INVALID_INPUT") in codes
    assert "MIN" not in results


@pytest.mark.parametrize(
    ("amount", "shown"),
    [
        ("1234567.5", "1,234,567.50"),
        ("0.125", "0.125"),
        ("-12.000000", "-12.00"),
        ("100", "100.00"),
        ("999999999999999999.999999", "999,999,999,999,999,999.999999"),
    ],
)
def test_amounts_are_shown_with_separators_and_at_least_two_decimals(
    amount: str, shown: str
) -> None:
    from balmon.money import shown as show

    assert show(Decimal(amount)) == shown
