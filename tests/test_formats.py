"""Money, dates and times as people read them (``bot.formats``): one rounding rule (half-up
to the cent), the currency rule, and times that must carry a zone. The older names the
builders and rules use are the same functions, so every message follows these rules."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import ROUND_HALF_EVEN, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot import formats
from bot.formats import (
    cents,
    fmt_age,
    fmt_date,
    fmt_rate,
    fmt_time,
    iso_date,
    money,
    window_label,
)

D = Decimal

# ---- money -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (D("0.005"), "$0.01"),
        (D("0.125"), "$0.13"),  # half-even would give $0.12
        (D("2.675"), "$2.68"),
        (D("0.135"), "$0.14"),
        (D("99.994"), "$99.99"),
        (D("99.995"), "$100.00"),
        (D("-0.005"), "-$0.01"),  # ties go away from zero on both sides
        (D("-2.665"), "-$2.67"),
    ],
)
def test_money_rounds_half_up_to_the_cent(value: Decimal, text: str) -> None:
    assert money(value) == text


def test_half_up_differs_from_the_half_even_default_where_it_matters() -> None:
    # The bug this module fixed: ``quantize`` without a rounding uses the context's half-even.
    assert D("0.125").quantize(D("0.01"), rounding=ROUND_HALF_EVEN) == D("0.12")
    assert cents(D("0.125")) == D("0.13")
    assert money(D("1234.125")) == "$1,234.13"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (D("0"), "$0.00"),
        (D("-0"), "$0.00"),
        (D("-0.004"), "$0.00"),  # rounds to zero: no minus sign on nothing
        (D("-3"), "-$3.00"),
        (D("-1234.5"), "-$1,234.50"),
        (D("1250"), "$1,250.00"),
        (D("1234567.891"), "$1,234,567.89"),
        (D("999.999"), "$1,000.00"),  # rounding carries into a new thousands group
    ],
)
def test_money_zero_negatives_and_thousands(value: Decimal, text: str) -> None:
    assert money(value) == text


def test_money_takes_int_and_str_but_refuses_float() -> None:
    assert money(1250) == "$1,250.00"
    assert money("12.345") == "$12.35"
    with pytest.raises(TypeError):
        money(12.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        cents(0.1)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "currency", "text"),
    [
        (D("1234.5"), "EUR", "1,234.50 EUR"),
        (D("99.9"), "eur", "99.90 EUR"),  # codes are case-insensitive
        (D("-3"), "CAD", "-3.00 CAD"),  # a Canadian dollar is never written "$"
        (D("0.125"), "GBP", "0.13 GBP"),  # the same rounding in every currency
        (D("5"), "usd", "$5.00"),
        (D("5"), " USD ", "$5.00"),
        (D("7"), "XYZ", "7.00 XYZ"),  # an unknown code is written, never refused
    ],
)
def test_money_in_other_currencies_is_written_with_the_code(
    value: Decimal, currency: str, text: str
) -> None:
    assert money(value, currency) == text


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_money_matches_half_up_computed_in_integers(ten_thousandths: int) -> None:
    """Against an independent half-up: whole cents = floor((|n| + 50) / 100), n in 1/10,000."""
    value = D(ten_thousandths).scaleb(-4)
    whole_cents = (abs(ten_thousandths) + 50) // 100
    body = f"{whole_cents // 100:,}.{whole_cents % 100:02d}"
    sign = "-" if ten_thousandths < 0 and whole_cents else ""
    assert money(value) == f"{sign}${body}"
    assert money(value, "EUR") == f"{sign}{body} EUR"
    assert cents(value) == D(whole_cents if not sign else -whole_cents).scaleb(-2)


# ---- dates and times -----------------------------------------------------------------------


def test_times_carry_a_zone_and_show_in_utc() -> None:
    at = datetime(2026, 11, 4, 5, 42, tzinfo=timezone(timedelta(hours=-5)))
    assert fmt_time(at) == "10:42 UTC, 4 Nov 2026"
    late = datetime(2026, 11, 3, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert fmt_date(late) == "4 Nov 2026"  # the day in UTC, not the sender's
    assert fmt_time(datetime(2026, 1, 9, 8, 5, tzinfo=UTC)) == "08:05 UTC, 9 Jan 2026"


@pytest.mark.parametrize("fmt", [fmt_time, fmt_date, formats.as_utc])
def test_naive_times_are_refused(fmt: object) -> None:
    with pytest.raises(ValueError, match="time zone"):
        fmt(datetime(2026, 11, 4, 10, 42))  # type: ignore[operator]


def test_calendar_dates_are_iso() -> None:
    assert iso_date(date(2026, 3, 7)) == "2026-03-07"
    assert iso_date(None) is None


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(seconds=5), "1m"),
        (timedelta(seconds=-30), "1m"),
        (timedelta(minutes=45), "45m"),
        (timedelta(hours=5, minutes=59), "5h"),
        (timedelta(days=3), "3d"),
        (timedelta(days=59), "59d"),
        (timedelta(days=60), "8w"),
    ],
)
def test_ages(delta: timedelta, text: str) -> None:
    assert fmt_age(delta) == text


@pytest.mark.parametrize(
    ("rate", "text"),
    [
        (D("0.125"), "12.5%"),
        (D("0.12"), "12%"),
        (D("0.12345"), "12.3%"),
        (D("0.00125"), "0.1%"),
        (D("1"), "100%"),
        (D("0"), "0%"),
    ],
)
def test_rates(rate: Decimal, text: str) -> None:
    assert fmt_rate(rate) == text


def test_windows() -> None:
    assert window_label(1) == "24 hours"
    assert window_label(7) == "7 days"


# ---- one place -----------------------------------------------------------------------------


def test_the_builders_names_are_the_same_functions() -> None:
    from bot.alerts import rules
    from bot.slack.blocks import common

    assert common.money is money
    assert common.fmt_time is fmt_time
    assert common.fmt_date is fmt_date
    assert common.fmt_age is fmt_age
    assert common.fmt_rate is fmt_rate
    assert common.as_utc is formats.as_utc
    assert rules.window_label is window_label


def test_diagnosis_sentences_round_half_up() -> None:
    from bot.diagnosis.wording import recreate_step
    from bot.models import Cause, Certainty, Finding
    from cb.models import Customer, Payment, SyncState, SyncStatus

    payment = Payment(
        id="p1",
        reference="CB-1",
        amount=D("0.125"),
        paid_at=datetime(2026, 1, 1, tzinfo=UTC),
        customer=Customer(id="c1", name="Acme"),
        sync=SyncState(status=SyncStatus.FAILED),
        updated_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    finding = Finding(
        invoice_id="1",
        invoice_number="1001",
        applied=D("0.125"),
        cause=Cause.DELETED,
        certainty=Certainty.CERTAIN,
        summary="x",
    )
    assert "$0.13 as the customer's credit" in recreate_step(payment, [finding])
