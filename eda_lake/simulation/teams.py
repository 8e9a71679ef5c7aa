"""What each team publishes on its own and how it reacts to the others' events.

Product publishes its catalogue; Customer publishes sign-ups and reacts to purchased leads;
Conversions follows the catalogue, turns new customers into leads (about one in three) or
abandoned customers, and turns confirmed sales into purchased leads. Every reaction's id is
derived from its cause and its business time is the cause's plus its stage's delay
(`timing`), so a replayed cause produces the very same reaction, never before its cause. A
reaction continues its cause's trace (`shared.trace_context`); the events a team publishes
on its own start one each.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal

from eda_lake.catalogue import Catalogue
from eda_lake.events.publisher import OutgoingEvent, derived_event_id
from eda_lake.simulation import timing, world
from eda_lake.simulation.conversions_state import ConversionsState, KnownProduct, Lead
from eda_lake.simulation.customer_state import CustomerState
from eda_lake.simulation.subscriber import Handler, Incoming, ReactionError

CENT = Decimal("0.01")


def product_catalogue(catalogue: Catalogue, seed: int) -> Iterator[OutgoingEvent]:
    """ProductUpdated for every product of the seeded catalogue."""
    source = catalogue.source("product")
    for product in world.products(seed):
        record: dict[str, object] = {
            "product_id": product.product_id,
            "updated_at": world.EPOCH,
            "sku": product.sku,
            "name": product.name,
            "category": product.category,
            "price": product.price.quantize(CENT),
            "currency": product.currency,
            "active": True,
        }
        yield OutgoingEvent(
            event="ProductUpdated",
            record=record,
            id=derived_event_id(source, "ProductUpdated", product.product_id, "v1"),
            source=source,
            time=timing.business_time("ProductUpdated", record),
        )


def customer_signups(catalogue: Catalogue, seed: int, count: int) -> Iterator[OutgoingEvent]:
    """CustomerCreated for `count` seeded customers, in business-time order."""
    source = catalogue.source("customer")
    for person in world.people(seed, count):
        record: dict[str, object] = {
            "customer_id": person.customer_id,
            "created_at": person.created_at,
            "email": person.email,
            "full_name": person.full_name,
            "country": person.country,
            "channel": person.channel,
        }
        yield OutgoingEvent(
            event="CustomerCreated",
            record=record,
            id=derived_event_id(source, "CustomerCreated", person.customer_id),
            source=source,
            time=timing.business_time("CustomerCreated", record),
        )


def _reaction(
    catalogue: Catalogue,
    team: str,
    event: str,
    cause: Incoming,
    record: dict[str, object],
) -> OutgoingEvent:
    return OutgoingEvent(
        event=event,
        record=record,
        id=derived_event_id(cause.envelope.source, cause.envelope.id, event),
        source=catalogue.source(team),
        time=timing.business_time(event, record),
        cause=cause.trace,
    )


def _uuid(value: object) -> str:
    return str(value) if isinstance(value, uuid.UUID) else str(uuid.UUID(str(value)))


def customer_handlers(catalogue: Catalogue, state: CustomerState) -> dict[str, Handler]:
    def on_lead_purchased(cause: Incoming) -> list[OutgoingEvent]:
        r = cause.record
        record = {
            "customer_id": _uuid(r["customer_id"]),
            "purchased_at": r["purchased_at"],
            "lead_id": _uuid(r["lead_id"]),
            "sale_id": _uuid(r["sale_id"]),
            "product_id": _uuid(r["product_id"]),
            "amount": r["amount"],
            "currency": r["currency"],
        }
        state.add_purchase(record)
        return [_reaction(catalogue, "customer", "CustomerPurchased", cause, record)]

    return {"LeadPurchased": on_lead_purchased}


def conversions_handlers(catalogue: Catalogue, state: ConversionsState) -> dict[str, Handler]:
    def on_product_updated(cause: Incoming) -> list[OutgoingEvent]:
        r = cause.record
        product = KnownProduct(_uuid(r["product_id"]), r["sku"], r["price"], r["currency"])
        state.upsert_product(product, bool(r["active"]), r["updated_at"])
        return []

    def on_customer_created(cause: Incoming) -> list[OutgoingEvent]:
        customer_id = _uuid(cause.record["customer_id"])
        created_at = cause.record["created_at"]
        if not world.becomes_lead(customer_id):
            abandoned_at = timing.ABANDON_DECISION.after(created_at, customer_id)
            reason = world.pick(world.ABANDON_REASONS, "abandon", customer_id)
            state.add_abandoned(customer_id, abandoned_at, reason)
            record = {"customer_id": customer_id, "abandoned_at": abandoned_at, "reason": reason}
            return [_reaction(catalogue, "conversions", "LeadAbandoned", cause, record)]
        products = tuple(state.active_products())
        if not products:
            raise ReactionError(
                "Conversions knows no active products yet, so it cannot price a lead; "
                "publish the product catalogue, then replay this dead letter"
            )
        product = world.pick(products, "product", customer_id)
        lead = Lead(
            lead_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"lead/{customer_id}")),
            customer_id=customer_id,
            product_id=product.product_id,
            partner_id=world.pick(world.PARTNERS, "partner", customer_id),
            amount=product.price.quantize(CENT),
            currency=product.currency,
            generated_at=timing.LEAD_DECISION.after(created_at, customer_id),
        )
        state.add_lead(lead)
        record = {
            "lead_id": lead.lead_id,
            "generated_at": lead.generated_at,
            "customer_id": customer_id,
            "product_id": lead.product_id,
            "partner_id": lead.partner_id,
            "expected_value": lead.amount,
            "currency": lead.currency,
        }
        return [_reaction(catalogue, "conversions", "LeadGenerated", cause, record)]

    def on_sale_confirmed(cause: Incoming) -> list[OutgoingEvent]:
        lead_id = _uuid(cause.record["lead_id"])
        sale_id = _uuid(cause.record["sale_id"])
        confirmed_at = timing.business_time("SaleConfirmed", cause.record)
        lead = state.lead(lead_id)
        if lead is None:
            raise ReactionError(f"sale confirmed for unknown lead {lead_id}")
        purchased_at = timing.PURCHASE.after(confirmed_at, f"purchase/{sale_id}")
        state.add_purchase(sale_id, lead_id, purchased_at)
        record = {
            "lead_id": lead_id,
            "purchased_at": purchased_at,
            "customer_id": lead.customer_id,
            "sale_id": sale_id,
            "product_id": lead.product_id,
            "amount": lead.amount,
            "currency": lead.currency,
        }
        return [_reaction(catalogue, "conversions", "LeadPurchased", cause, record)]

    return {
        "ProductUpdated": on_product_updated,
        "CustomerCreated": on_customer_created,
        "SaleConfirmed": on_sale_confirmed,
    }
