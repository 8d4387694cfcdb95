"""Pre-sale business rules over a connection (contract 5.5, 7.4-7.8; decisions 10.3-10.8, 10.14).

Every write runs in one transaction (a create: in one statement), retried on serialization failures and
deadlocks (`with_retry`), so a failing item leaves nothing written. Every change to `converted` (PATCH status,
PUT, POST convert) goes through `_change_status`, which deducts stock under row locks.
"""

from __future__ import annotations

import builtins  # builtins.list: in the class below, after its own `list` method, `list` names the method
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from typing import Any, TypeVar

import asyncpg
import msgspec

from service import errors
from service.audit.service import audit_values, fields, record
from service.auth.current_user import CurrentUser
from service.db.errors import Action, translate_errors, with_retry
from service.db.page_cache import PageCache
from service.db.pages import Total, fetch_page
from service.http.schemas import MONEY_MAX
from service.presales import queries
from service.presales.schemas import (
    TERMINAL,
    PresaleCreate,
    PresaleItemIn,
    PresaleListQuery,
    PresaleUpdate,
    can_transition,
)
from service.presales.totals import (
    ZERO,
    Discounted,
    DiscountExceedsLine,
    format_quantity,
    is_whole,
    item_totals,
    presale_totals,
    whole_units,
)

T = TypeVar("T")

NOT_FOUND = "Pre-sale not found"
STOCK_REDUCTION_AGENT = "Automatic Stock Reduction"
DISCOUNT_FIELDS = frozenset({"discount", "discount_type", "discount_percentage"})


# A row's values by position: an asyncpg Record (its slices are tuples) or a tuple.
Values = asyncpg.Record | Sequence[Any]


def assemble_presales(rows: Sequence[Values], item_rows: Sequence[Values]) -> list[msgspec.Struct]:
    """Pre-sales in the wire format of `PresaleOut`, from their READ_COLUMNS values (queries.page) and those of
    their items (queries.ITEMS_OF). Every value is already its wire text (queries.py), taken as it is into a
    msgspec struct whose fields are the wire keys (below), which the JSON encoder writes as the object; a test
    holds the result to what PresaleOut writes (tests/presales/test_wire_format.py)."""
    presales: list[msgspec.Struct] = []
    items_by_presale: dict[str, list[msgspec.Struct]] = {}
    for values in rows:
        items: list[msgspec.Struct] = []
        items_by_presale[values[0]] = items  # values[0]: the pre-sale's id
        presales.append(PresaleWire(*values[:CUSTOMER_AT], CustomerWire(*values[CUSTOMER_AT:]), items))
    for values in item_rows:
        item = ItemWire(*values[:PRODUCT_AT], ProductWire(*values[PRODUCT_AT:]))
        items_by_presale[values[1]].append(item)  # values[1]: its pre-sale's id
    return presales


PRESALE_KEYS, CUSTOMER_KEYS = tuple(queries.PRESALE_FIELDS), tuple(queries.CUSTOMER_FIELDS)
ITEM_KEYS, PRODUCT_KEYS = tuple(queries.ITEM_FIELDS), tuple(queries.PRODUCT_FIELDS)
CUSTOMER_AT, PRODUCT_AT = len(PRESALE_KEYS), len(ITEM_KEYS)  # where the nested object's values start in a row
ITEMS_AT = len(queries.READ_COLUMNS)  # in a row of queries.get, where the item's values start


def _wire_struct(name: str, keys: Sequence[str]) -> type[msgspec.Struct]:
    """A struct whose fields are wire keys, in order: made from a row's values by position, written by the JSON
    encoder as the object of those keys. A page of 100 pre-sales is 800 objects: as dicts (dict(zip(keys, row)))
    they took ~1.25 ms of the worker's CPU to build and ~0.27 ms to encode, as structs ~0.19 ms and ~0.18 ms
    (measured side by side on the same rows, 2026-12-06). Not tracked by the garbage collector (gc=False): a
    struct holds strings, another struct or a list, never itself."""
    return msgspec.defstruct(name, [(key, Any) for key in keys], gc=False)


CustomerWire = _wire_struct("CustomerWire", CUSTOMER_KEYS)
ProductWire = _wire_struct("ProductWire", PRODUCT_KEYS)
PresaleWire = _wire_struct("PresaleWire", (*PRESALE_KEYS, "customer", "items"))
ItemWire = _wire_struct("ItemWire", (*ITEM_KEYS, "product"))


def whole_presale(rows: Sequence[asyncpg.Record]) -> msgspec.Struct:
    """One pre-sale from its rows of queries.get or queries.create: a row per item, each holding the pre-sale's
    READ_COLUMNS then the item's columns (null when it has no item)."""
    items = [row[ITEMS_AT:] for row in rows if row[ITEMS_AT] is not None]
    return assemble_presales([rows[0][:ITEMS_AT]], items)[0]


def new_item_ids(count: int) -> list[uuid.UUID]:
    """UUIDv7 ids (RFC 9562, a 12-bit counter in rand_a) that sort in request order within one pre-sale."""
    millis = time.time_ns() // 1_000_000 & ((1 << 48) - 1)
    ids = []
    for index in range(count):
        rand_b = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
        ids.append(uuid.UUID(int=millis << 80 | 0x7 << 76 | (index & 0xFFF) << 64 | 0b10 << 62 | rand_b))
    return ids


def insufficient_stock(shortages: Sequence[tuple[asyncpg.Record, int, Decimal]]) -> errors.Conflict:
    """409 INSUFFICIENT_STOCK naming every short product: (product row, available, requested)."""
    message = "; ".join(
        f'Insufficient stock for "{product["name"]}". Available: {available}, Requested: {format_quantity(requested)}'
        for product, available, requested in shortages
    )
    details = [
        {
            "productId": str(product["id"]),
            "productName": product["name"],
            "available": available,
            "requested": format_quantity(requested),
        }
        for product, available, requested in shortages
    ]
    return errors.Conflict(message, code="INSUFFICIENT_STOCK", details=details)


def _requested(items: Sequence[PresaleItemIn]) -> dict[uuid.UUID, Decimal]:
    """The quantity asked of each product, in the order products first appear: duplicate lines of one product
    are summed (decision 10.7)."""
    requested: dict[uuid.UUID, Decimal] = {}
    for item in items:
        requested[item.product_id] = requested.get(item.product_id, ZERO) + item.quantity
    return requested


def _totals(item: PresaleItemIn) -> Discounted:
    """The line's figures (totals.item_totals); DiscountExceedsLine when its discount is above it."""
    return item_totals(item.quantity, item.unit_price, item.discount_type, item.discount, item.discount_percentage)


def _line(item: PresaleItemIn, line: Discounted) -> dict[str, Any]:
    """An item's row (without its ids) from its computed totals (totals.item_totals)."""
    return {
        "product_id": item.product_id,
        "quantity": item.quantity,
        "unit_price": item.unit_price,
        "total_price": line.total,
        "discount": line.discount,
        "discount_type": item.discount_type,
        "discount_percentage": line.discount_percentage,
    }


class PresaleService:
    def __init__(self, conn: asyncpg.Connection, user: CurrentUser) -> None:
        self.conn = conn
        self.user = user

    async def _transaction(self, operation: Callable[[], Awaitable[T]], action: Action = Action.UPDATE) -> T:
        async def attempt() -> T:
            async with self.conn.transaction():
                return await operation()

        # A customer or product deleted between our check and our write: the same 404 as the check.
        with translate_errors(action):
            return await with_retry(attempt)

    # --- reads ---------------------------------------------------------------------------------------------

    async def get(self, presale_id: uuid.UUID) -> msgspec.Struct:
        return await self._read(presale_id, self.user.presale_owner)

    async def list(self, q: PresaleListQuery, pages: PageCache) -> tuple[msgspec.Raw, Total]:
        owner = self.user.presale_owner  # part of the kept page's key: it narrows the rows

        async def read() -> tuple[builtins.list[msgspec.Struct], Total]:
            async with self._snapshot():
                rows, total = await fetch_page(self.conn, queries.page(q, owner), lambda: queries.count(q, owner), q)
                return await self._with_items(rows), total

        return await pages.page(self.conn, "presales", (owner, q.model_dump_json()), queries.LIST_READS, read)

    # --- writes --------------------------------------------------------------------------------------------

    async def create(self, data: PresaleCreate) -> msgspec.Struct:
        async def operation() -> msgspec.Struct:
            # First, one round trip: the write statement tests the products itself (queries.CREATE) and writes
            # nothing when one fails. Not tried when a line's own figures are refused: naming that takes the
            # products, and a product's refusal comes first.
            plain = self._plain_lines(data.items)
            if plain is not None:
                rows = await self._insert_new(data, *plain, needs=self._needs(data.items))
                if rows:
                    return whole_presale(rows)
            # The checks, in their order, say what is refused: the write with the products read here.
            products = await self._products(data.items, customer_id=data.customer_id)
            if data.payment_method_id is not None:
                await self._require_payment_method(data.payment_method_id)
            rows = await self._insert_new(data, *self._prepare_items(data.items, products))
            if not rows:  # the method was deactivated or deleted since it was checked: nothing was written
                assert data.payment_method_id is not None, "without a method the statement writes its row"
                await self._require_payment_method(data.payment_method_id)
                raise errors.Conflict("The payment method changed while the pre-sale was written; send it again")
            return whole_presale(rows)

        # One statement writes (queries.CREATE): the checks before it take no lock, so no transaction is needed.
        # A customer or product deleted between a check and the write is the same 404.
        with translate_errors(Action.CREATE):
            return await with_retry(operation)

    async def update(self, presale_id: uuid.UUID, data: PresaleUpdate) -> msgspec.Struct:
        sent = data.model_fields_set

        async def operation() -> msgspec.Struct:
            if data.payment_method_id is not None:
                # Before the pre-sale's row lock: a concurrent delete of the method holds the method's row and
                # then checks the pre-sales referring to it, so taking the two locks in the other order could
                # deadlock with it.
                await self._require_payment_method(data.payment_method_id)
            current = await self._lock(presale_id)
            status = current["status"]
            target = data.status if "status" in sent and data.status is not None else status
            if not can_transition(status, target):
                raise errors.BadRequest(f"Invalid status transition from {status} to {target}")
            if status in TERMINAL:
                if sent - {"status"}:
                    raise errors.Conflict(f"A {status} pre-sale cannot be changed")
                return await self._read(presale_id)  # the same terminal status: nothing to do

            values: dict[str, Any] = {}
            if "customer_id" in sent:
                await self._require_customer(data.customer_id)
                values["customer_id"] = data.customer_id
            if "notes" in sent:
                values["notes"] = data.notes
            if "payment_method_id" in sent:  # null clears it
                values["payment_method_id"] = data.payment_method_id
            discount_type = data.discount_type or current["discount_type"]
            if data.items is not None:
                # 7.5 PUT: new items take the request's discount fields; a missing one counts as 0.
                lines, prices = self._prepare_items(data.items, await self._products(data.items))
                totals = presale_totals(prices, discount_type, data.discount or ZERO, data.discount_percentage or ZERO)
                await self.conn.execute(*queries.delete_items(presale_id))
                await self._insert_items(presale_id, lines)
                values.update(self._totals_columns(totals, discount_type))
            elif sent & DISCOUNT_FIELDS:
                # 7.5 PUT: stored items; a fixed discount not sent keeps the stored amount, a percentage counts 0.
                subtotal = await self.conn.fetchval(*queries.item_subtotal(presale_id))
                if data.discount is not None:
                    discount = data.discount
                else:
                    discount = current["discount"] if discount_type == "fixed" else ZERO
                totals = presale_totals([subtotal], discount_type, discount, data.discount_percentage or ZERO)
                values.update(self._totals_columns(totals, discount_type))
            if values:
                await self.conn.execute(*queries.update_presale(presale_id, values))
            if target != status:  # after the new items are in: a conversion deducts for those
                await self._change_status(current, target)
            changed = {"status": target} if target != status else {}
            await record(self.conn, self.user, "update", "presales", presale_id, fields(sent, **changed))
            return await self._read(presale_id)

        return await self._transaction(operation)

    async def set_status(self, presale_id: uuid.UUID, target: str) -> msgspec.Struct:
        """PATCH status and POST convert (contract 5.5, decision 10.7)."""

        async def operation() -> msgspec.Struct:
            current = await self._lock(presale_id)
            await self._change_status(current, target)
            if current["status"] != target:
                await record(self.conn, self.user, "update", "presales", presale_id, {"status": target})
            return await self._read(presale_id)

        return await self._transaction(operation)

    async def delete(self, presale_id: uuid.UUID) -> None:
        async def operation() -> None:
            async with self.conn.transaction():
                if await self.conn.fetchval(*queries.delete_presale(presale_id, self.user.presale_owner)) is not None:
                    await record(self.conn, self.user, "delete", "presales", presale_id)
                    return
            status = await self.conn.fetchval(*queries.status_of(presale_id, self.user.presale_owner))
            if status == "converted":
                raise errors.Conflict("A converted pre-sale cannot be deleted")
            raise errors.NotFound(NOT_FOUND)

        await with_retry(operation)

    # --- the one status-change path ------------------------------------------------------------------------

    async def _change_status(self, current: asyncpg.Record, target: str) -> None:
        """Validate the transition and apply it; to `converted` deduct stock atomically (decision 10.7).

        The caller holds the pre-sale row lock (so its items cannot change meanwhile). Products are locked
        in id order; stock is checked on the locked, current values, so concurrent conversions queue on the
        product rows and the later ones see the stock the earlier ones left.
        """
        status = current["status"]
        if not can_transition(status, target):
            raise errors.BadRequest(f"Invalid status transition from {status} to {target}")
        if status == target:
            return
        presale_id = current["id"]
        if target == "converted":
            requested = {
                row["product_id"]: row["quantity"]
                for row in await self.conn.fetch(*queries.item_quantities(presale_id))
            }
            if requested:
                locked = await self.conn.fetch(*queries.lock_products(sorted(requested)))
                shortages = [
                    (product, product["stock"], requested[product["id"]])
                    for product in locked
                    if whole_units(requested[product["id"]]) > product["stock"]
                ]
                if shortages:
                    raise insufficient_stock(shortages)
                await self.conn.executemany(
                    queries.decrement_stock(), [(whole_units(requested[p["id"]]), p["id"]) for p in locked]
                )
                reason = f"Venda finalizada - Pré-venda #{str(presale_id)[:8]}"
                await self.conn.execute(
                    *queries.insert_adjustments(
                        [
                            {
                                "product_id": p["id"],
                                "adjustment_type": "remove",
                                "quantity": whole_units(requested[p["id"]]),
                                "previous_stock": p["stock"],
                                "new_stock": p["stock"] - whole_units(requested[p["id"]]),
                                "reason": reason,
                                "user_id": self.user.id,
                                "user_name": self.user.name,
                                "user_agent": STOCK_REDUCTION_AGENT,
                                "presale_id": presale_id,
                            }
                            for p in locked
                        ]
                    )
                )
        await self.conn.execute(*queries.update_presale(presale_id, {"status": target}))

    # --- helpers -------------------------------------------------------------------------------------------

    async def _read(self, presale_id: uuid.UUID, owner: uuid.UUID | None = None) -> msgspec.Struct:
        """The whole pre-sale, in one statement (queries.get)."""
        rows = await self.conn.fetch(*queries.get(presale_id, owner))
        if not rows:
            raise errors.NotFound(NOT_FOUND)
        return whole_presale(rows)

    def _snapshot(self) -> asyncpg.transaction.Transaction:
        """The list's two statements (the pre-sales, then their items) see one snapshot: a pre-sale changed in
        between cannot show its old total with its new items."""
        return self.conn.transaction(isolation="repeatable_read", readonly=True)

    async def _with_items(self, rows: Sequence[asyncpg.Record]) -> builtins.list[msgspec.Struct]:
        if not rows:
            return []
        item_rows = await self.conn.fetch(*queries.items_of([row[0] for row in rows]))  # row[0]: the pre-sale id
        return assemble_presales(rows, item_rows)  # a Record's slice is a tuple: no copy of each row first

    async def _lock(self, presale_id: uuid.UUID) -> asyncpg.Record:
        """The pre-sale row, locked for this transaction; 404 also when the caller may not see it."""
        row = await self.conn.fetchrow(*queries.lock_presale(presale_id, self.user.presale_owner))
        if row is None:
            raise errors.NotFound(NOT_FOUND)
        return row

    async def _require_customer(self, customer_id: uuid.UUID | None) -> None:
        if customer_id is None or await self.conn.fetchval(*queries.customer_exists(customer_id)) is None:
            raise errors.NotFound("Customer not found")

    async def _require_payment_method(self, payment_method_id: uuid.UUID) -> None:
        """Decision 10.4: the method exists and is active, and stays so until the write ends (the row is
        share-locked: a deactivation or delete waits for the pre-sale write, or the write waits for it). In an
        update's transaction this lock holds until it commits; a create's one statement takes it again itself."""
        row = await self.conn.fetchrow(*queries.lock_payment_method(payment_method_id))
        if row is None:
            raise errors.NotFound("Payment method not found")
        if not row["is_active"]:
            raise errors.ValidationFailed.field("paymentMethodId", "Payment method is inactive", str(payment_method_id))

    async def _products(
        self, items: Sequence[PresaleItemIn], customer_id: uuid.UUID | None = None
    ) -> dict[uuid.UUID, asyncpg.Record]:
        """The items' products that exist, by id. With `customer_id` (a create) the same statement checks that
        customer, whose 404 comes before any refusal of the items."""
        product_ids = list(dict.fromkeys(item.product_id for item in items))
        rows = await self.conn.fetch(*queries.products_by_id(product_ids, customer_id))
        if customer_id is not None:
            if not rows:  # no product to carry the answer: ask on its own
                await self._require_customer(customer_id)
            elif not rows[0]["customer_found"]:
                raise errors.NotFound("Customer not found")
        return {row["id"]: row for row in rows}

    @staticmethod
    def _prepare_items(
        items: Sequence[PresaleItemIn], products: dict[uuid.UUID, asyncpg.Record]
    ) -> tuple[builtins.list[dict[str, Any]], builtins.list[Decimal]]:
        """Check the items against their products (`_products`) and compute each line (contract 7.4, 7.5;
        decision 10.6).

        Order of refusals: a missing product (404), a fractional quantity for a unit product (422), a fixed
        discount above its line (400), then stock short for the sum of a product's lines (409). The one statement
        of these rules; a create first tries queries.CREATE's stricter test of them (`_needs`).
        """
        requested = _requested(items)
        missing = [product_id for product_id in requested if product_id not in products]
        if missing:
            raise errors.NotFound("; ".join(f"Product not found: {product_id}" for product_id in missing))

        details = []
        for index, item in enumerate(items):
            product = products[item.product_id]
            if not is_whole(item.quantity) and product["sale_type"].strip().lower() != "fractional":
                details.append(
                    {
                        "field": f"items.{index}.quantity",
                        "message": f'Quantity must be a whole number for "{product["name"]}" '
                        f"(sale type {product['sale_type']})",
                        "value": format_quantity(item.quantity),
                    }
                )
        if details:
            raise errors.ValidationFailed(details[0]["message"], details=details)

        lines: list[dict[str, Any]] = []
        problems = []
        for index, item in enumerate(items):
            try:
                line = _totals(item)
            except DiscountExceedsLine as exc:
                problems.append(
                    f'Item {index + 1} ("{products[item.product_id]["name"]}"): discount {exc.discount} '
                    f"exceeds the line total {exc.line}"
                )
                continue
            if line.base > MONEY_MAX:
                raise errors.ValidationFailed.field(f"items.{index}", f"Line total must not exceed {MONEY_MAX}")
            lines.append(_line(item, line))
        if problems:
            raise errors.BadRequest("; ".join(problems))

        shortages = [
            (products[pid], products[pid]["stock"], quantity)
            for pid, quantity in requested.items()
            if whole_units(quantity) > products[pid]["stock"]
        ]
        if shortages:
            raise insufficient_stock(shortages)
        prices = [line["total_price"] for line in lines]
        if sum(prices, ZERO) > MONEY_MAX:
            raise errors.ValidationFailed.field("items", f"The pre-sale subtotal must not exceed {MONEY_MAX}")
        return lines, prices

    @staticmethod
    def _plain_lines(
        items: Sequence[PresaleItemIn],
    ) -> tuple[builtins.list[dict[str, Any]], builtins.list[Decimal]] | None:
        """The lines as `_prepare_items` computes them, without the products, or None when a line's figures are
        refused (a discount above its line, a total above MONEY_MAX): naming it, and knowing whether a product's
        refusal comes first, takes the products."""
        lines = []
        for item in items:
            try:
                line = _totals(item)
            except DiscountExceedsLine:
                return None
            if line.base > MONEY_MAX:
                return None
            lines.append(_line(item, line))
        prices = [line["total_price"] for line in lines]
        return (lines, prices) if sum(prices, ZERO) <= MONEY_MAX else None

    @staticmethod
    def _needs(items: Sequence[PresaleItemIn]) -> builtins.list[dict[str, Any]]:
        """What the items take from each product, for queries.CREATE's test (its NEED_COLUMNS): the whole units of
        stock, and whether a line is fractional (then the product's sale type must be 'fractional')."""
        fractional = {item.product_id for item in items if not is_whole(item.quantity)}
        return [
            {"product_id": pid, "units": whole_units(quantity), "fractional": pid in fractional}
            for pid, quantity in _requested(items).items()
        ]

    async def _insert_new(
        self,
        data: PresaleCreate,
        lines: builtins.list[dict[str, Any]],
        prices: builtins.list[Decimal],
        needs: builtins.list[dict[str, Any]] | None = None,
    ) -> builtins.list[asyncpg.Record]:
        """The new pre-sale, its items and its audit row in one statement (queries.CREATE): its rows, as `get`'s;
        none when the payment method is no longer active, or the products do not meet `needs`."""
        totals = presale_totals(prices, data.discount_type, data.discount, data.discount_percentage)
        presale = {
            "customer_id": data.customer_id,
            "status": data.status,
            "notes": data.notes,
            "payment_method_id": data.payment_method_id,
            "created_by": self.user.id,
            **self._totals_columns(totals, data.discount_type),
        }
        ids = new_item_ids(len(lines))
        lines = [{**line, "id": item_id} for item_id, line in zip(ids, lines, strict=True)]
        audit = audit_values(self.user, "create", "presales", details={"status": data.status})
        return await self.conn.fetch(*queries.create(presale, lines, audit, needs))

    async def _insert_items(self, presale_id: uuid.UUID, lines: builtins.list[dict[str, Any]]) -> None:
        ids = new_item_ids(len(lines))
        await self.conn.execute(
            *queries.insert_items(
                [{**line, "id": item_id, "presale_id": presale_id} for item_id, line in zip(ids, lines, strict=True)]
            )
        )

    @staticmethod
    def _totals_columns(totals: Discounted, discount_type: str) -> dict[str, Any]:
        return {
            "total": totals.total,
            "discount": totals.discount,
            "discount_type": discount_type,
            "discount_percentage": totals.discount_percentage,
        }
