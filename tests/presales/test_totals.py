"""The pure arithmetic of contract 7.5 (decision 10.5: Decimal, ROUND_HALF_UP to cents)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from service.presales.totals import (
    DiscountExceedsLine,
    format_quantity,
    is_whole,
    item_totals,
    presale_totals,
    to_cents,
    whole_units,
)


def test_contract_worked_example() -> None:
    lines = [item_totals(D("2"), D("50.00")), item_totals(D("1"), D("30.00"))]
    assert [line.total for line in lines] == [D("100.00"), D("30.00")]
    totals = presale_totals([line.total for line in lines], "percentage", discount_percentage=D("10"))
    assert totals.base == D("130.00")
    assert str(totals.discount) == "13.00"
    assert str(totals.discount_percentage) == "10.00"
    assert str(totals.total) == "117.00"


def test_fixed_global_discount_gives_equivalent_percentage() -> None:
    totals = presale_totals([D("130.00")], "fixed", discount=D("13.00"))
    assert (totals.discount, totals.discount_percentage, totals.total) == (D("13.00"), D("10.00"), D("117.00"))
    thirds = presale_totals([D("30.00")], "fixed", discount=D("10.00"))
    assert thirds.discount_percentage == D("33.33")


def test_fixed_global_discount_above_subtotal_is_capped_at_zero_total() -> None:
    totals = presale_totals([D("20.00")], "fixed", discount=D("50.00"))
    assert (totals.discount, totals.discount_percentage, totals.total) == (D("20.00"), D("100.00"), D("0.00"))


def test_type_decides_which_input_is_used() -> None:
    fixed = presale_totals([D("100.00")], "fixed", discount=D("5.00"), discount_percentage=D("50"))
    assert fixed.discount == D("5.00")
    pct = presale_totals([D("100.00")], "percentage", discount=D("5.00"), discount_percentage=D("50"))
    assert pct.discount == D("50.00")


def test_percentages_round_half_up_to_cents() -> None:
    # 0.125 -> 0.13 under HALF_UP (banker's rounding would give 0.12)
    totals = presale_totals([D("1.25")], "percentage", discount_percentage=D("10"))
    assert totals.discount == D("0.13") and totals.total == D("1.12")
    assert to_cents(D("2.675")) == D("2.68") and to_cents(D("2.665")) == D("2.67")


def test_line_is_rounded_half_up() -> None:
    # 1.005 x 1.99 = 1.99995 -> 2.00 ; 0.333 x 10.00 = 3.33
    assert item_totals(D("1.005"), D("1.99")).total == D("2.00")
    assert item_totals(D("0.333"), D("10.00")).total == D("3.33")
    assert item_totals(D("0.005"), D("1.00")).total == D("0.01")


def test_item_fixed_discount() -> None:
    line = item_totals(D("3"), D("10.00"), "fixed", discount=D("7.50"))
    assert (line.base, line.discount, line.discount_percentage, line.total) == (
        D("30.00"),
        D("7.50"),
        D("25.00"),
        D("22.50"),
    )
    whole = item_totals(D("3"), D("10.00"), "fixed", discount=D("30.00"))
    assert whole.total == D("0.00") and whole.discount_percentage == D("100.00")


def test_item_fixed_discount_above_line_is_refused() -> None:
    with pytest.raises(DiscountExceedsLine) as caught:
        item_totals(D("2"), D("10.00"), "fixed", discount=D("20.01"))
    assert (caught.value.discount, caught.value.line) == (D("20.01"), D("20.00"))


def test_item_percentage_discount() -> None:
    line = item_totals(D("3"), D("3.33"), "percentage", discount_percentage=D("15"))
    # line 9.99, 15 % = 1.4985 -> 1.50, equivalent 1.50/9.99 = 15.015 % -> 15.02
    assert (line.base, line.discount, line.discount_percentage, line.total) == (
        D("9.99"),
        D("1.50"),
        D("15.02"),
        D("8.49"),
    )
    full = item_totals(D("1"), D("9.99"), "percentage", discount_percentage=D("100"))
    assert full.total == D("0.00") and full.discount == D("9.99")


def test_zero_line_and_zero_subtotal() -> None:
    free = item_totals(D("2"), D("0.00"), "percentage", discount_percentage=D("50"))
    assert (free.discount, free.discount_percentage, free.total) == (D("0.00"), D("0.00"), D("0.00"))
    empty = presale_totals([D("0.00")], "fixed", discount=D("5.00"))
    assert (empty.discount, empty.discount_percentage, empty.total) == (D("0.00"), D("0.00"), D("0.00"))


def test_item_and_global_discounts_combine() -> None:
    first = item_totals(D("2"), D("50.00"), "percentage", discount_percentage=D("10"))  # 100 - 10 = 90
    second = item_totals(D("1"), D("30.00"), "fixed", discount=D("5.00"))  # 25
    totals = presale_totals([first.total, second.total], "fixed", discount=D("15.00"))
    assert totals.base == D("115.00") and totals.total == D("100.00")
    assert totals.discount_percentage == D("13.04")


def test_whole_units_and_formatting() -> None:
    assert whole_units(D("2.000")) == 2 and whole_units(D("2.001")) == 3 and whole_units(D("0.5")) == 1
    assert is_whole(D("3.000")) and not is_whole(D("3.5"))
    assert format_quantity(D("6.000")) == "6" and format_quantity(D("2.500")) == "2.5"
