"""Deterministic synthetic values: a seed gives the same products, people and times.

Decisions that a subscriber takes on an event (lead or not, which product, did the partner
sell) come from hashing the cause, not from a random stream, so that a replayed event always
gets the same reaction.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple, TypeVar

T = TypeVar("T")

EPOCH = datetime(2026, 10, 1, tzinfo=UTC)  # business time starts here for every seed

FIRST_NAMES = (
    "Ada", "Bjorn", "Chiara", "Dmitri", "Elif", "Farah", "Goran", "Hana", "Ines", "Jonas",
    "Keiko", "Lars", "Maya", "Nikolai", "Olga", "Pedro", "Quinn", "Rosa", "Sami", "Tomas",
    "Uma", "Viktor", "Wanda", "Xavier", "Yara", "Zoltan",
)  # fmt: skip
LAST_NAMES = (
    "Andersen", "Bianchi", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Horvat",
    "Ivanova", "Jensen", "Kowalski", "Laine", "Moreau", "Novak", "Olsen", "Petrov",
    "Rossi", "Schmidt", "Tanaka", "Urban", "Varga", "Weber", "Young", "Zimmermann",
)  # fmt: skip
MAIL_DOMAINS = ("example.com", "example.org", "example.net", "mail.example")
COUNTRIES = ("DE", "FR", "NL", "SE", "DK", "ES", "IT", "PL", "GB", "IE", "US", "CA")
CHANNELS = ("WEB", "WEB", "WEB", "MOBILE", "MOBILE", "PARTNER", "STORE")
PARTNERS = ("northwind", "contoso", "fabrikam", "tailspin")
ABANDON_REASONS = ("NO_INTEREST", "NO_INTEREST", "UNREACHABLE", "NOT_ELIGIBLE", "DUPLICATE")
PRODUCTS = (
    ("SKU-1001", "Lake Starter", "SOFTWARE", "49.00"),
    ("SKU-1002", "Lake Pro", "SOFTWARE", "199.00"),
    ("SKU-1003", "Lake Enterprise", "SUBSCRIPTION", "1299.00"),
    ("SKU-2001", "Edge Gateway", "HARDWARE", "849.50"),
    ("SKU-2002", "Sensor Kit", "HARDWARE", "129.90"),
    ("SKU-3001", "Onboarding Workshop", "SERVICE", "2400.00"),
    ("SKU-3002", "Support Plan", "SUBSCRIPTION", "89.00"),
    ("SKU-3003", "Data Audit", "SERVICE", "4200.00"),
)  # fmt: skip
# Version 4 and the RFC 4122 variant, as uuid.UUID(version=4) sets them.
_V4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48)) & ((1 << 128) - 1)
_V4_SET = (0x4000 << 64) | (0x8000 << 48)
LEAD_SHARE = 3  # about one customer in three becomes a lead
SALE_PERCENT = 60  # share of leads that partners sell


def fraction(*parts: str) -> float:
    """A stable number in [0, 1) from the parts: the same cause, the same decision."""
    digest = hashlib.sha256("|".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def pick(options: tuple[T, ...], *parts: str) -> T:
    return options[int(fraction(*parts) * len(options))]


def seeded_uuid(rng: random.Random) -> str:
    """`str(uuid.UUID(int=rng.getrandbits(128), version=4))`, formatted directly."""
    value = (rng.getrandbits(128) & _V4_CLEAR) | _V4_SET
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@dataclass(frozen=True)
class Product:
    product_id: str
    sku: str
    name: str
    category: str
    price: Decimal
    currency: str


class Person(NamedTuple):
    customer_id: str
    created_at: datetime
    email: str
    full_name: str
    country: str
    channel: str


def products(seed: int) -> list[Product]:
    rng = random.Random(f"products-{seed}")
    return [
        Product(seeded_uuid(rng), sku, name, category, Decimal(price), "EUR")
        for sku, name, category, price in PRODUCTS
    ]


def people(seed: int, count: int, days: int = 14) -> list[Person]:
    """`count` customers signing up over `days` days of business time, in time order."""
    rng = random.Random(f"customers-{seed}")
    span = days * 86_400
    result = []
    for index in range(count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        offset = timedelta(seconds=rng.randrange(span), microseconds=rng.randrange(1_000_000))
        result.append(
            Person(
                customer_id=seeded_uuid(rng),
                created_at=EPOCH + offset,
                email=f"{first}.{last}.{index}@{rng.choice(MAIL_DOMAINS)}".lower(),
                full_name=f"{first} {last}",
                country=rng.choice(COUNTRIES),
                channel=rng.choice(CHANNELS),
            )
        )
    result.sort(key=lambda p: p.created_at)
    return result


def becomes_lead(customer_id: str) -> bool:
    return fraction("lead", customer_id) < 1 / LEAD_SHARE


def partner_sells(lead_id: str) -> bool:
    return fraction("sale", lead_id) * 100 < SALE_PERCENT
