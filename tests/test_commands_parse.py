"""Pure unit tests of the ``/failed-payments`` text parser."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from bot.commands.parse import (
    CommandError,
    HelpCommand,
    ListCommand,
    ListFilters,
    RecheckCommand,
    ShowCommand,
    StatsCommand,
    format_age,
    parse_command,
)
from bot.models import Cause


def err(text: str) -> str:
    with pytest.raises(CommandError) as info:
        parse_command(text)
    return info.value.message


@pytest.mark.parametrize("text", ["", "   ", "list", "LIST", "ls"])
def test_empty_and_list_mean_an_unfiltered_list(text: str) -> None:
    assert parse_command(text) == ListCommand(ListFilters())


def test_each_filter() -> None:
    assert parse_command("list cause:credit-memo").filters.cause == Cause.CREDIT_MEMO  # type: ignore[union-attr]
    assert parse_command("customer:northwind") == ListCommand(ListFilters(customer="northwind"))
    assert parse_command("older:3d") == ListCommand(ListFilters(older_than=timedelta(days=3)))
    assert parse_command("min:500") == ListCommand(ListFilters(min_amount=Decimal(500)))


def test_filters_combine_in_any_order_and_case() -> None:
    got = parse_command("list MIN:$1,250.50 Older:12h CAUSE:Credit_Memo customer:North")
    assert got == ListCommand(
        ListFilters(
            cause=Cause.CREDIT_MEMO,
            customer="North",
            older_than=timedelta(hours=12),
            min_amount=Decimal("1250.50"),
        )
    )


def test_customer_takes_following_words_or_quotes() -> None:
    assert parse_command("customer:northwind dental min:5").filters == ListFilters(  # type: ignore[union-attr]
        customer="northwind dental", min_amount=Decimal(5)
    )
    assert parse_command('customer:"Acme  & Sons" older:1w').filters == ListFilters(  # type: ignore[union-attr]
        customer="Acme & Sons", older_than=timedelta(weeks=1)
    )
    assert parse_command("customer:“Zürich AG”").filters.customer == "Zürich AG"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("age", "expected"),
    [
        ("3d", timedelta(days=3)),
        ("3", timedelta(days=3)),
        ("12h", timedelta(hours=12)),
        ("45m", timedelta(minutes=45)),
        ("2w", timedelta(weeks=2)),
        ("10days", timedelta(days=10)),
    ],
)
def test_ages(age: str, expected: timedelta) -> None:
    assert parse_command(f"older:{age}").filters.older_than == expected  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("min:500", Decimal(500)),
        ("min:$1,000", Decimal(1000)),
        ("min:2.5k", Decimal("2500.00")),
        ("min:0", Decimal(0)),
        ("min:99.99", Decimal("99.99")),
    ],
)
def test_amounts(text: str, amount: Decimal) -> None:
    assert parse_command(text).filters.min_amount == amount  # type: ignore[union-attr]


def test_typo_in_filter_names_the_mistake_and_suggests() -> None:
    assert err("list cus:acme") == "unknown filter `cus:` — did you mean `customer:`?"
    assert err("caus:credit-memo") == "unknown filter `caus:` — did you mean `cause:`?"
    assert err("olde:3d") == "unknown filter `olde:` — did you mean `older:`?"
    assert "unknown filter `zzz:`" in err("zzz:1")
    assert "did you mean" not in err("zzz:1")


def test_unknown_cause_suggests_the_short_name() -> None:
    assert err("cause:credit") == "unknown cause `credit` — did you mean `cause:credit-memo`?"
    assert "did you mean `cause:paid-manually`" in err("cause:paid-manualy")
    msg = err("cause:banana")
    assert "`credit-memo`" in msg and "`paid-manually`" in msg


def test_unknown_subcommand_suggests() -> None:
    assert err("lsit") == "unknown command `lsit` — did you mean `list`?"
    assert err("stast") == "unknown command `stast` — did you mean `stats`?"
    assert err("rechek") == "unknown command `rechek` — did you mean `recheck`?"
    assert err("CB10234") == "unknown command `CB10234` — did you mean `show CB10234`?"
    assert err("frobnicate") == "unknown command `frobnicate`"


@pytest.mark.parametrize(
    ("text", "part"),
    [
        ("older:soon", "`older:` wants an age"),
        ("older:9999w", "over ten years"),
        ("min:lots", "`min:` wants an amount"),
        ("min:-5", "zero or more"),
        ("min:NaN", "`min:`"),
        ("cause:", "`cause:` needs a value"),
        ("cause:credit-memo cause:unknown", "given twice"),
        ("list northwind", "unexpected `northwind`"),
        ("list stats", "`stats` is a command of its own"),
        ("list min 500", "`min` needs a value after a colon"),
        ('customer:"open', "quote is not closed"),
        ("show", "`show` needs a CB reference"),
        ("show CB1 CB2", "`show` takes one reference"),
        ("show <!channel>", "is not a CB reference"),
        ("recheck now", "`recheck` takes nothing"),
        ("stats 14d", "unknown window `14d`: use `7d`, `30d`, `90d` — did you mean `7d`?"),
        ("stats week", "unknown window `week`"),
        ("stats 7d 30d", "one window"),
        ("x" * 600, "keep it under"),
    ],
)
def test_errors_name_the_mistake(text: str, part: str) -> None:
    assert part in err(text)


def test_stats_windows() -> None:
    assert parse_command("stats") == StatsCommand(7)
    assert parse_command("stats 30d") == StatsCommand(30)
    assert parse_command("STATS 90") == StatsCommand(90)
    assert parse_command("status 7d") == StatsCommand(7)


def test_show_recheck_help() -> None:
    assert parse_command("show CB10234") == ShowCommand("CB10234")
    assert parse_command("show pmt_8f2c41") == ShowCommand("pmt_8f2c41")
    assert parse_command("recheck") == RecheckCommand()
    assert parse_command("help") == HelpCommand()
    assert parse_command("help me please") == HelpCommand()


def test_backticks_in_user_text_cannot_break_the_message() -> None:
    msg = err("zz`z:1")
    assert msg.count("`") % 2 == 0


def test_filters_describe_and_round_trip() -> None:
    f = parse_command('cause:credit-memo customer:"north wind" older:36h min:500.5').filters  # type: ignore[union-attr]
    assert f.describe() == 'cause:credit-memo customer:"north wind" older:36h min:500.50'
    assert parse_command(f.describe()).filters == f  # type: ignore[union-attr]
    assert ListFilters.from_dict(f.to_dict()) == f
    assert ListFilters().describe() == "" and ListFilters().empty
    assert format_age(timedelta(minutes=90)) == "90m"
    with pytest.raises(ValueError):
        ListFilters.from_dict({"cause": "nope"})
