"""Property tests of the pre-sale totals (contract 7.5) against an independent Decimal model.

The model below is written from the contract's rules, not from service.presales.totals: each line is
quantity x unitPrice rounded half-up to cents; an item discount is a fixed amount (never above the line) or a
percentage of the line (to cents); the subtotal is the sum of the item totals; the global discount is a fixed
amount or a percentage of the subtotal (to cents); the total never goes below zero; the stored discount is the
amount actually taken (at most the subtotal) and the stored percentage is its share of the subtotal (2 dp,
0..100, 0 for a zero subtotal).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from service.presales.totals import DiscountExceedsLine, item_totals, presale_totals

PROPERTY_SETTINGS = settings(
    derandomize=True, max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def decimals(places: int, low: str, high: str) -> st.SearchStrategy[Decimal]:
    """Decimals with at most `places` decimal places in [low, high], as the wire would carry them."""
    scale = 10**places
    return st.integers(int(Decimal(low) * scale), int(Decimal(high) * scale)).map(lambda n: Decimal(n).scaleb(-places))


quantities = decimals(3, "0.001", "9999.999")
prices = decimals(2, "0", "99999.99")
percentages = decimals(2, "0", "100")


def share(amount: Decimal, base: Decimal) -> Decimal:
    """amount as a percentage of base, 2 dp, 0..100; 0 for a zero base."""
    if base == 0:
        return Decimal("0.00")
    return min(cents(amount * 100 / base), Decimal("100.00"))


def model_item(
    quantity: Decimal, unit_price: Decimal, kind: str, discount: Decimal, percentage: Decimal
) -> tuple[Decimal, Decimal, Decimal]:
    """(totalPrice, discount amount, discountPercentage) of one line, straight from contract 7.5."""
    line = cents(quantity * unit_price)
    amount = discount if kind == "fixed" else min(cents(line * percentage / 100), line)
    assert amount <= line  # the generator only makes valid fixed discounts
    return line - amount, amount, share(amount, line)


def model_presale(
    item_totals_: list[Decimal], kind: str, discount: Decimal, percentage: Decimal
) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """(subtotal, total, stored discount, stored discountPercentage) of the pre-sale."""
    subtotal = sum(item_totals_, Decimal("0"))
    amount = discount if kind == "fixed" else cents(subtotal * percentage / 100)
    taken = min(amount, subtotal)
    return subtotal, max(Decimal("0"), subtotal - amount), taken, share(taken, subtotal)


@st.composite
def items(draw: st.DrawFn) -> tuple[Decimal, Decimal, str, Decimal, Decimal]:
    quantity, unit_price = draw(quantities), draw(prices)
    line = cents(quantity * unit_price)
    kind = draw(st.sampled_from(["fixed", "percentage"]))
    if kind == "fixed":
        discount = draw(st.one_of(st.just(Decimal("0")), st.just(line), decimals(2, "0", str(line))))
        return quantity, unit_price, kind, discount, Decimal("0")
    return quantity, unit_price, kind, Decimal("0"), draw(percentages)


@st.composite
def global_discounts(draw: st.DrawFn) -> tuple[str, Decimal, Decimal]:
    if draw(st.booleans()):  # fixed: often above the subtotal, to exercise the floor at zero
        return "fixed", draw(st.one_of(decimals(2, "0", "100"), decimals(2, "0", "99999999.99"))), Decimal("0")
    return "percentage", Decimal("0"), draw(percentages)


@PROPERTY_SETTINGS
@given(st.lists(items(), min_size=1, max_size=8), global_discounts())
def test_totals_match_the_contract_model(lines: list, global_discount: tuple[str, Decimal, Decimal]) -> None:
    expected_items = []
    for quantity, unit_price, kind, discount, percentage in lines:
        got = item_totals(quantity, unit_price, kind, discount, percentage)  # type: ignore[arg-type]
        total, amount, pct = model_item(quantity, unit_price, kind, discount, percentage)
        assert (got.base, got.total, got.discount, got.discount_percentage) == (
            cents(quantity * unit_price),
            total,
            amount,
            pct,
        ), (quantity, unit_price, kind, discount, percentage)
        assert got.total >= 0 and got.discount >= 0 and Decimal("0") <= got.discount_percentage <= 100
        for value in (got.total, got.discount, got.discount_percentage):
            assert value == cents(value)  # whole cents (numeric(10,2) / (5,2))
        expected_items.append(total)

    kind, discount, percentage = global_discount
    got = presale_totals(
        [item_totals(q, p, k, d, pc).total for q, p, k, d, pc in lines],  # type: ignore[arg-type]
        kind,
        discount,
        percentage,
    )  # type: ignore[arg-type]
    subtotal, total, taken, pct = model_presale(expected_items, kind, discount, percentage)
    assert (got.base, got.total, got.discount, got.discount_percentage) == (subtotal, total, taken, pct)
    assert got.total >= 0 and got.discount <= got.base
    assert Decimal("0") <= got.discount_percentage <= 100
    assert got.total == got.base - got.discount  # what is stored adds up


@PROPERTY_SETTINGS
@given(quantities, prices, decimals(2, "0.01", "1000"))
def test_a_fixed_item_discount_above_the_line_is_refused(
    quantity: Decimal, unit_price: Decimal, excess: Decimal
) -> None:
    line = cents(quantity * unit_price)
    assume(line + excess <= Decimal("99999999.99"))
    with pytest.raises(DiscountExceedsLine):
        item_totals(quantity, unit_price, "fixed", line + excess, Decimal("0"))
    assert item_totals(quantity, unit_price, "fixed", line, Decimal("0")).total == 0  # the line itself is fine


@PROPERTY_SETTINGS
@given(st.lists(decimals(2, "0", "99999.99"), min_size=0, max_size=10), percentages)
def test_a_percentage_discount_is_monotone_and_bounded(subtotals: list[Decimal], percentage: Decimal) -> None:
    got = presale_totals(subtotals, "percentage", Decimal("0"), percentage)
    full = presale_totals(subtotals, "percentage", Decimal("0"), Decimal("100"))
    assert full.total == 0 and got.total >= 0
    assert got.discount <= full.discount == got.base
    if got.base > 0:
        # the stored percentage is the rounded share of the amount actually taken
        assert abs(got.discount_percentage - percentage) <= Decimal("50") / got.base + Decimal("0.01")
