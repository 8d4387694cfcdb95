"""Pre-sale totals and discounts (contract 7.5, decision 10.5): pure Decimal arithmetic, no I/O.

Money is rounded to cents with ROUND_HALF_UP at every step the contract names:
  line = quantity x unitPrice (to cents)
  item discount amount = fixed `discount`, or line x pct / 100 (to cents), never above the line
  item totalPrice = line - amount;  item discountPercentage = amount / line x 100 (2 dp, 0 for a zero line)
  subtotal = sum of item totalPrice
  global amount = fixed `discount`, or subtotal x pct / 100 (to cents)
  total = max(0, subtotal - amount);  stored discount = amount capped at subtotal;
  stored discountPercentage = stored discount / subtotal x 100 (2 dp, at most 100, 0 for a zero subtotal)
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

DiscountType = Literal["fixed", "percentage"]

ZERO = Decimal("0")
HUNDRED = Decimal("100")
CENT = Decimal("0.01")


def to_cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


class DiscountExceedsLine(ValueError):
    """A fixed item discount larger than the line total (a 400 for the caller)."""

    def __init__(self, discount: Decimal, line: Decimal) -> None:
        super().__init__(f"Item discount {discount} exceeds the line total {line}")
        self.discount = discount
        self.line = line


@dataclass(frozen=True)
class Discounted:
    """The result of applying a discount to a base amount: what the database stores."""

    base: Decimal  # the line (items) or the subtotal (pre-sale), in cents
    discount: Decimal  # the amount taken off, in cents, never above `base`
    discount_percentage: Decimal  # the equivalent percentage, 2 dp, 0..100
    total: Decimal  # base - discount, in cents, never below 0


def _equivalent_percentage(amount: Decimal, base: Decimal) -> Decimal:
    if base <= ZERO:
        return to_cents(ZERO)
    return min(to_cents(amount / base * HUNDRED), to_cents(HUNDRED))


def _apply(base: Decimal, discount_type: DiscountType, discount: Decimal, percentage: Decimal) -> Discounted:
    if discount_type == "percentage":
        amount = to_cents(base * percentage / HUNDRED)
    else:
        amount = to_cents(discount)
    amount = min(amount, base)
    return Discounted(
        base=base,
        discount=amount,
        discount_percentage=_equivalent_percentage(amount, base),
        total=max(ZERO, to_cents(base - amount)),
    )


def item_totals(
    quantity: Decimal,
    unit_price: Decimal,
    discount_type: DiscountType = "fixed",
    discount: Decimal = ZERO,
    discount_percentage: Decimal = ZERO,
) -> Discounted:
    """One line. Raises DiscountExceedsLine when a fixed discount is above the line total."""
    line = to_cents(quantity * unit_price)
    if discount_type == "fixed" and discount > line:
        raise DiscountExceedsLine(discount, line)
    return _apply(line, discount_type, discount, discount_percentage)


def presale_totals(
    item_total_prices: Iterable[Decimal],
    discount_type: DiscountType = "fixed",
    discount: Decimal = ZERO,
    discount_percentage: Decimal = ZERO,
) -> Discounted:
    """The whole pre-sale from its items' totalPrice. A fixed discount above the subtotal is capped (total 0)."""
    subtotal = to_cents(sum(item_total_prices, ZERO))
    return _apply(subtotal, discount_type, discount, discount_percentage)


def whole_units(quantity: Decimal) -> int:
    """Stock is counted in whole units: a fractional quantity takes the next whole unit (decision 10.6)."""
    return math.ceil(quantity)


def is_whole(quantity: Decimal) -> bool:
    return quantity == quantity.to_integral_value()


def format_quantity(quantity: Decimal) -> str:
    """For messages: `6` for whole quantities, `2.5` otherwise."""
    if is_whole(quantity):
        return str(int(quantity))
    return format(quantity.normalize(), "f")
