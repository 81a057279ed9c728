"""Permits and payments as an artifact states them (``permits``, tool-call payloads)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from keel_verify.facts.model import Payment, Permit, _money

MAX_PERMITS = 500


def _int(value: Any) -> int | None:
    return value if type(value) is int else None


def _text(value: Any, limit: int = 80) -> str | None:
    if not isinstance(value, str):
        return None
    return value if len(value) <= limit else value[: limit - 1] + "\u2026"


def payment_of(holder: Mapping[str, Any]) -> Payment | None:
    """The ``payment`` object of a tool-call payload or a child permit's
    ``custom_metadata``, or None when there is none. Reads the API's form
    (``requested_amount`` in minor units, ``requested_currency``, ``authority`` with
    ``amount_max`` as a decimal string) and the earlier one (``amount``, ``currency``,
    ``spend_authority``)."""
    payment = holder.get("payment")
    if type(payment) is not dict:
        return None
    authority = payment.get("authority", payment.get("spend_authority"))
    if type(authority) is not dict:
        authority = {}
    amount = payment.get("requested_amount", payment.get("amount"))
    currency = payment.get("requested_currency", payment.get("currency"))
    ceiling = authority.get("amount_max")
    ceiling_class = _text(authority.get("currency_class"), 20)
    if type(ceiling) is int:
        ceiling_text: str | None = _money(ceiling, _text(currency, 12))
    elif isinstance(ceiling, str):
        ceiling_text = _text(ceiling, 40)
        if ceiling_text is not None:
            # The format states the ceiling as a bare decimal string, with no unit: show
            # it as stated and say so, rather than guess minor or major units.
            unit = f"currency class {ceiling_class}" if ceiling_class else "no currency class"
            ceiling_text += f" as stated ({unit}; the artifact does not give its unit)"
    else:
        ceiling_text = None
    return Payment(
        amount_minor=_int(amount),
        currency=_text(currency, 12),
        authority_id=_text(payment.get("spend_request_id", authority.get("authority_id"))),
        amount_max=ceiling_text,
        cadence=_text(authority.get("cadence"), 40),
        ttl_seconds=_int(authority.get("ttl_seconds")),
        purpose=_text(authority.get("purpose_binding"), 60),
        target_url=_text(payment.get("mpp_target_url"), 200),
    )


def _permit(raw: dict[str, Any], kind: str, sequences: Mapping[str, int | None]) -> Permit:
    permit_id = raw.get("permit_id")
    metadata = raw.get("custom_metadata")
    return Permit(
        permit_id=_text(permit_id),
        kind=kind,
        action_name=_text(raw.get("action_name")),
        decision=_text(raw.get("decision"), 40),
        status=_text(raw.get("status"), 40),
        bound_sequence=sequences.get(permit_id) if isinstance(permit_id, str) else None,
        payment=payment_of(metadata) if type(metadata) is dict else None,
    )


def read_permits(document: Mapping[str, Any],
                 sequences: Mapping[str, int | None]) -> tuple[tuple[Permit, ...], int]:
    """The session permit then the child permits (at most :data:`MAX_PERMITS`), and how
    many were left out. ``sequences`` maps a permit id to the chain entry naming it."""
    permits = document.get("permits")
    if type(permits) is not dict:
        return (), 0
    found: list[Permit] = []
    parent = permits.get("parent_session_permit")
    if type(parent) is dict:
        found.append(_permit(parent, "session", sequences))
    children = permits.get("child_tool_call_permits")
    children = children if type(children) is list else []
    objects = [child for child in children if type(child) is dict]
    for child in objects[:MAX_PERMITS]:
        found.append(_permit(child, "child", sequences))
    return tuple(found), max(0, len(objects) - MAX_PERMITS)
