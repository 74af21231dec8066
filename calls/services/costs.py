"""A finished call's usage gathered and priced (calls/costs.py), and the carrier's own price fetched when the
status callback carried none (Twilio posts the price minutes after the call, if at all)."""

import logging
import uuid

from django.conf import settings
from django.db import transaction

from calls.costs import price_call
from calls.hooks import call_script
from calls.models import Call, TranscriptTurn
from voice.providers.base import ProviderError

logger = logging.getLogger(__name__)


def _carrier_price(call: Call) -> None:
    """Ask the carrier for the price of a call that has none yet (the reaper's status request)."""
    if call.price is not None or not call.provider_call_id or call.provider != settings.TELEPHONY_PROVIDER:
        return
    from voice.providers.selection import telephony

    try:
        report = telephony().fetch_status(call.provider_call_id)
    except ProviderError as error:
        logger.info("no carrier price for call %s yet: %s", call.pk, error.message)
        return
    if report.price is not None:
        Call.objects.filter(pk=call.pk, price=None).update(price=report.price, price_unit=report.price_unit)


def call_cost_update(*, call_id: uuid.UUID | str) -> Call | None:
    """Gather the call's usage and store its estimated cost (recomputed from scratch: safe to run again)."""
    call = Call.objects.filter(pk=call_id).first()
    if call is None or not call.is_terminal:
        return None
    _carrier_price(call)
    turns = TranscriptTurn.objects.filter(call_id=call.pk)
    spoken = sum(len(text) for text in turns.filter(role=TranscriptTurn.Role.AGENT).values_list("text", flat=True))
    heard = sum(
        (ended - started).total_seconds()
        for started, ended in turns.filter(role=TranscriptTurn.Role.CONTACT, started_at__isnull=False,
                                           ended_at__isnull=False).values_list("started_at", "ended_at")
    )  # fmt: skip
    script = call_script(call.agent_id) if call.agent_id is not None else None
    prices = settings.CALL_PRICES
    with transaction.atomic():
        usage = Call.objects.select_for_update().filter(pk=call.pk).values_list("usage", flat=True).first() or {}
        usage = {
            **usage,
            "telephony_provider": call.provider,
            "telephony_seconds": call.duration_seconds or 0,
            "tts_provider": settings.TEXT_TO_SPEECH_PROVIDER,
            "tts_characters": spoken,
            "stt_provider": settings.SPEECH_TO_TEXT_PROVIDER,
            "stt_seconds": round(max(0.0, heard), 1),
            "llm_model": (script.llm_model if script else "") or (
                "simulated" if settings.LANGUAGE_MODEL_PROVIDER == "simulated" else "default"),
            "analysis_model": call.analysis_model or "",
        }  # fmt: skip
        cost = price_call(usage, prices)
        usage["unpriced"] = cost["unpriced"]
        Call.objects.filter(pk=call.pk).update(
            usage=usage, cost_telephony=cost["telephony"], cost_tts=cost["tts"], cost_stt=cost["stt"],
            cost_llm=cost["llm"], cost=cost["total"], cost_currency=str(prices.get("currency", ""))[:3],
        )  # fmt: skip
    return Call.objects.filter(pk=call.pk).first()
