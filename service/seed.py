"""`flowcrm seed`: a realistic demo data set, loaded idempotently.

Every seeded row has a deterministic id (uuid5 of its number), so running the command again inserts only
what is missing (ON CONFLICT DO NOTHING). Customers get valid CPFs; products come in several units and
sale types; pre-sales go through the real service, so totals, stock checks and conversions follow the
same rules as the API, and there are pre-sales in every status.
"""

from __future__ import annotations

import logging
import random
import unicodedata
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import msgspec
from pypika import PostgreSQLQuery as Query
from pypika import Table
from tqdm import tqdm

from service import errors
from service.auth.current_user import CurrentUser
from service.customers.cpf import check_digits
from service.db.sql import P, Params
from service.presales.schemas import PresaleCreate
from service.presales.service import PresaleService

log = logging.getLogger(__name__)

NAMESPACE = uuid.UUID("6f1c1f9e-5b8e-4f43-9c1c-6a4f0e0a5e11")
BATCH = 1000

FIRST = [
    "Ana",
    "Bruno",
    "Carla",
    "Diego",
    "Eduarda",
    "Felipe",
    "Gabriela",
    "Henrique",
    "Isabela",
    "João",
    "Larissa",
    "Marcos",
    "Natália",
    "Otávio",
    "Paula",
    "Rafael",
    "Sofia",
    "Thiago",
    "Vitória",
    "Wagner",
]
LAST = [
    "Silva",
    "Santos",
    "Oliveira",
    "Souza",
    "Rodrigues",
    "Ferreira",
    "Alves",
    "Pereira",
    "Lima",
    "Gomes",
    "Costa",
    "Ribeiro",
    "Martins",
    "Carvalho",
    "Almeida",
    "Lopes",
    "Soares",
    "Fernandes",
    "Vieira",
    "Barbosa",
]
STREETS = [
    "Rua das Flores",
    "Avenida Paulista",
    "Rua XV de Novembro",
    "Avenida Brasil",
    "Rua da Praia",
    "Rua Sete de Setembro",
    "Avenida Atlântica",
    "Rua Augusta",
]
CITIES = [
    "São Paulo - SP",
    "Rio de Janeiro - RJ",
    "Belo Horizonte - MG",
    "Curitiba - PR",
    "Porto Alegre - RS",
    "Salvador - BA",
    "Recife - PE",
    "Fortaleza - CE",
]
# (name, unit, sale type, purchase price)
PRODUCTS = [
    ("Arroz tipo 1", "kg", "fractional", "4.20"),
    ("Feijão carioca", "kg", "fractional", "6.10"),
    ("Café torrado 500 g", "un", "unit", "12.50"),
    ("Açúcar refinado", "kg", "fractional", "3.40"),
    ("Óleo de soja 900 ml", "un", "unit", "6.80"),
    ("Leite integral", "l", "fractional", "4.50"),
    ("Queijo minas", "g", "fractional", "0.05"),
    ("Parafuso 6 mm", "pc", "unit", "0.12"),
    ("Tinta acrílica 18 l", "un", "unit", "189.90"),
    ("Cabo flexível 2,5 mm", "un", "unit", "3.10"),
    ("Detergente 500 ml", "un", "unit", "1.90"),
    ("Sabão em pó 1 kg", "un", "unit", "9.70"),
]


def seeded_id(kind: str, number: int) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"{kind}:{number}")


def demo_cpf(number: int) -> str:
    base = f"{(number * 7_654_321 + 123_456_789) % 1_000_000_000:09d}"
    if len(set(base)) == 1:
        base = "987654321"
    return base + check_digits(base)


def ascii_slug(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def customer_rows(count: int) -> Iterator[dict[str, Any]]:
    rng = random.Random(42)
    for n in range(1, count + 1):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        yield {
            "id": seeded_id("customer", n),
            "name": f"{first} {last} {rng.choice(LAST)}" if n > len(FIRST) else f"{first} {last}",
            "email": f"{ascii_slug(first)}.{ascii_slug(last)}.{n}@exemplo.com.br",
            "phone": f"({rng.randint(11, 99)}) 9{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}",
            "cpf": demo_cpf(n),
            "address": f"{rng.choice(STREETS)}, {rng.randint(1, 3000)} - {rng.choice(CITIES)}" if n % 4 else None,
        }


def product_rows(count: int) -> Iterator[dict[str, Any]]:
    rng = random.Random(7)
    for n in range(1, count + 1):
        name, unit, sale_type, purchase = PRODUCTS[(n - 1) % len(PRODUCTS)]
        purchase_price = Decimal(purchase)
        yield {
            "id": seeded_id("product", n),
            "code": f"DEMO-{n:05d}",
            "name": name if n <= len(PRODUCTS) else f"{name} (lote {n})",
            "unit": unit,
            "description": f"Produto de demonstração #{n}" if n % 3 else None,
            "stock": rng.randint(0, 500),
            "purchase_price": purchase_price,
            "sale_price": (purchase_price * Decimal("1.35")).quantize(Decimal("0.01")),
            "sale_type": sale_type,
        }


async def insert_rows(
    conn: asyncpg.Connection, table: str, rows: Iterator[dict[str, Any]], total: int, label: str
) -> int:
    """Multi-row inserts in batches; rows that already exist (any unique key) are skipped."""
    target = Table(table)
    inserted = 0
    with tqdm(total=total, desc=label, unit="rows", disable=total < 5000) as progress:
        batch: list[dict[str, Any]] = []
        for row in rows:
            batch.append(row)
            if len(batch) == BATCH:
                inserted += await _insert_batch(conn, target, batch)
                progress.update(len(batch))
                batch = []
        if batch:
            inserted += await _insert_batch(conn, target, batch)
            progress.update(len(batch))
    return inserted


async def _insert_batch(conn: asyncpg.Connection, table: Table, batch: list[dict[str, Any]]) -> int:
    p = Params()
    columns = list(batch[0])
    query = Query.into(table).columns(*columns)
    for row in batch:
        query = query.insert(*(p(row[c]) for c in columns))
    query = query.on_conflict().do_nothing().returning(table.id)
    return len(await conn.fetch(*p.statement(query)))


STATUS_CYCLE = ("draft", "pending", "approved", "cancelled", "converted")
PRESALE_NOTE = "Pré-venda de demonstração #"


_users = Table("users")
_presales = Table("presales")
# $1: the role ("admin").
OLDEST_WITH_ROLE = (
    Query.from_(_users)
    .select(_users.id, _users.email, _users.name, _users.role, _users.permissions, _users.created_at, _users.updated_at)
    .where(_users.role == P[1])
    .orderby(_users.created_at)
    .limit(1)
    .get_sql()
)
# $1: a LIKE pattern.
PRESALE_NOTES_LIKE = Query.from_(_presales).select(_presales.notes).where(_presales.notes.like(P[1])).get_sql()


async def acting_admin(conn: asyncpg.Connection) -> CurrentUser:
    """The oldest admin, to whom seeded pre-sales are attributed; a nameless system user when none exists."""
    row = await conn.fetchrow(OLDEST_WITH_ROLE, "admin")
    if row is None:
        now = datetime.now(UTC).replace(tzinfo=None)
        return CurrentUser(
            id=None,  # type: ignore[arg-type]  # no users row: the seeded pre-sales get no creator (created_by null)
            email="",
            name="Dados de demonstração",
            role="admin",
            stored_permissions=None,
            created_at=now,
            updated_at=now,
        )
    return CurrentUser.from_row(row)


async def existing_presale_numbers(conn: asyncpg.Connection) -> set[int]:
    rows = await conn.fetch(PRESALE_NOTES_LIKE, f"{PRESALE_NOTE}%")
    return {int(row["notes"].removeprefix(PRESALE_NOTE)) for row in rows}


async def seed_presales(conn: asyncpg.Connection, count: int, customers: int, products: int) -> int:
    """Pre-sales through the real service (totals, stock checks, conversion), in every status; the number
    created (one refused for lack of stock is not)."""
    service = PresaleService(conn, await acting_admin(conn))
    done = await existing_presale_numbers(conn)
    catalogue = list(product_rows(products))
    rng = random.Random(99)
    created = not_created = 0
    for n in tqdm(range(1, count + 1), desc="pre-sales", disable=count < 500):
        picks = [rng.randint(1, products) for _ in range(rng.randint(1, 3))]
        if n in done:
            continue
        items = []
        for product_number in dict.fromkeys(picks):
            product = catalogue[product_number - 1]
            whole = product["sale_type"] != "fractional"
            quantity = str(rng.randint(1, 3)) if whole else f"{rng.randint(1, 2500) / 1000:.3f}"
            items.append(
                {"productId": str(product["id"]), "quantity": quantity, "unitPrice": str(product["sale_price"])}
            )
        body = {
            "customerId": str(seeded_id("customer", rng.randint(1, customers))),
            "notes": f"{PRESALE_NOTE}{n}",
            "status": "draft" if STATUS_CYCLE[n % 5] == "draft" else "pending",
            "discountType": "percentage" if n % 2 else "fixed",
            "discountPercentage": str(rng.choice([0, 5, 10])) if n % 2 else "0",
            "discount": "0" if n % 2 else str(rng.choice([0, 1, 2])),
            "items": items,
        }
        try:
            presale = await service.create(PresaleCreate.model_validate(body))
        except errors.AppError:  # not enough stock for this one: not created
            not_created += 1
            continue
        created += 1
        presale_id = uuid.UUID(msgspec.structs.asdict(presale)["id"])  # the wire object (PresaleService's answer)
        target = STATUS_CYCLE[n % 5]
        try:
            if target in ("approved", "converted"):
                await service.set_status(presale_id, "approved")
            if target in ("cancelled", "converted"):
                await service.set_status(presale_id, target)
        except errors.AppError:  # not enough stock left to convert it: it stays where it got to
            pass
    if not_created:
        log.warning("seed: %d pre-sale(s) not created (not enough stock); a later run tries them again", not_created)
    return created


async def seed(conn: asyncpg.Connection, *, customers: int, products: int, presales: int) -> dict[str, int]:
    return {
        "customers": await insert_rows(conn, "customers", customer_rows(customers), customers, "customers"),
        "products": await insert_rows(conn, "products", product_rows(products), products, "products"),
        "presales": await seed_presales(conn, presales, customers, products) if customers and products else 0,
    }
