"""A call's estimated cost: usage gathered from the call, priced from CALL_PRICES; the carrier's price fetched
(from a fake Twilio) when its callback carried none."""

import datetime
from decimal import Decimal

from django.utils import timezone

from calls.costs import price_call
from calls.models import Call, TranscriptTurn
from calls.selectors import campaign_cost_total
from calls.services import call_cost_update

PRICES = {
    "currency": "USD",
    "telephony_per_minute": {"twilio": "0.0140", "simulated": "0.0100"},
    "tts_per_1k_characters": {"simulated": "0.1000"},
    "stt_per_minute": {"simulated": "0.0060"},
    "llm_per_1m_tokens": {
        "gpt-4o-mini": {"input": "0.15", "output": "0.60"},
        "simulated": {"input": "1", "output": "2"},
    },
}


def test_each_part_is_priced_from_the_table():
    usage = {"telephony_provider": "simulated", "telephony_seconds": 61, "tts_provider": "simulated",
             "tts_characters": 2500, "stt_provider": "simulated", "stt_seconds": 30, "llm_model": "gpt-4o-mini",
             "llm_prompt_tokens": 1_000_000, "llm_completion_tokens": 500_000, "analysis_model": "simulated",
             "analysis_prompt_tokens": 1000, "analysis_completion_tokens": 500}  # fmt: skip

    cost = price_call(usage, PRICES)

    assert cost["telephony"] == Decimal("0.02000")  # 61 s: two started minutes
    assert cost["tts"] == Decimal("0.25000")  # 2.5 thousand characters
    assert cost["stt"] == Decimal("0.00300")  # half a minute
    assert cost["llm"] == Decimal("0.45200")  # 0.15 + 0.30, and the analysis's 0.001 + 0.001
    assert cost["total"] == Decimal("0.72500")
    assert cost["unpriced"] == []


def test_a_provider_the_table_does_not_name_costs_nothing_and_says_so():
    cost = price_call({"telephony_provider": "acme", "telephony_seconds": 10}, PRICES)
    assert cost["telephony"] == 0
    assert cost["unpriced"] == ["telephony_per_minute:acme"]


def test_a_finished_calls_usage_and_cost_are_stored(settings, call, campaign):
    settings.CALL_PRICES = PRICES
    settings.TEXT_TO_SPEECH_PROVIDER = settings.SPEECH_TO_TEXT_PROVIDER = "simulated"
    start = timezone.now()
    Call.objects.filter(pk=call.pk).update(status="completed", ended_at=start, duration_seconds=95,
                                           usage={"llm_prompt_tokens": 2000, "llm_completion_tokens": 100})  # fmt: skip
    TranscriptTurn.objects.bulk_create([
        TranscriptTurn(call=call, index=0, role="agent", text="a" * 500),
        TranscriptTurn(call=call, index=1, role="contact", text="yes", started_at=start,
                       ended_at=start + datetime.timedelta(seconds=12)),
        TranscriptTurn(call=call, index=2, role="agent", text="b" * 500),
    ])  # fmt: skip

    priced = call_cost_update(call_id=call.pk)

    assert priced.usage["telephony_seconds"] == 95
    assert priced.usage["tts_characters"] == 1000
    assert priced.usage["stt_seconds"] == 12.0
    assert priced.usage["llm_model"] == "gpt-4o-mini"  # the agent's model
    assert priced.cost_telephony == Decimal("0.02000")
    assert priced.cost_tts == Decimal("0.10000")
    assert priced.cost_stt == Decimal("0.00120")
    assert priced.cost_llm == Decimal("0.00036")
    assert priced.cost == Decimal("0.12156")
    assert priced.cost_currency == "USD"
    assert call_cost_update(call_id=call.pk).cost == priced.cost  # recomputed, not added twice
    assert campaign_cost_total(campaign_id=campaign.pk)["total"] == Decimal("0.12156")


def test_the_carriers_price_is_fetched_when_the_callback_had_none(call, twilio_settings, fake_twilio):
    fake_twilio.call_status = {"status": "completed", "price": "-0.01300", "price_unit": "USD"}
    Call.objects.filter(pk=call.pk).update(status="completed", ended_at=timezone.now(), provider="twilio",
                                           provider_call_id="CA" + "2" * 32, duration_seconds=30)  # fmt: skip

    priced = call_cost_update(call_id=call.pk)

    assert priced.price == Decimal("0.01300")  # as the adapter reads it (Twilio bills negative amounts)
    assert priced.price_unit == "USD"
    assert fake_twilio.requests[0].path.endswith(f"/Calls/CA{'2' * 32}.json")
