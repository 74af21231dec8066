"""A call's estimated cost: what it used (telephony minutes, TTS characters, STT seconds, LLM tokens) priced
from the CALL_PRICES settings table.

- Telephony: each started minute of the call's duration (how carriers bill), at the carrier's per-minute rate.
- TTS: the characters of what the agent said (the transcript's agent turns: the words heard), per 1,000.
- STT: the seconds the callee spoke (the transcript's callee turns), per minute.
- LLM: the conversation's tokens (as its model reported them) at the agent's model's rates, plus the post-call
  analysis's tokens at the analysis model's rates.

A provider or model the table does not name costs nothing for that part (and says so in `usage["unpriced"]`).
"""

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

PER = {"tts": Decimal(1000), "stt": Decimal(60), "llm": Decimal(1_000_000)}
PLACES = Decimal("0.00001")


def _rate(table: Mapping[str, Any], key: str) -> Decimal | None:
    value = table.get(key)
    return Decimal(str(value)) if value is not None else None


def _llm_cost(prices: Mapping[str, Any], model: str, prompt: int, completion: int, unpriced: list[str]) -> Decimal:
    if not (prompt or completion):
        return Decimal(0)
    table = prices.get("llm_per_1m_tokens", {})
    rates = table.get(model) or table.get("default")
    if rates is None:
        unpriced.append(f"llm:{model}")
        return Decimal(0)
    return (Decimal(prompt) * Decimal(str(rates["input"])) + Decimal(completion) * Decimal(str(rates["output"]))) / PER[
        "llm"
    ]


def price_call(usage: Mapping[str, Any], prices: Mapping[str, Any]) -> dict[str, Any]:
    """{telephony, tts, stt, llm, total} in the table's currency for a call's `usage`, and what had no price."""
    unpriced: list[str] = []

    def part(table_name: str, provider: str, quantity: Decimal) -> Decimal:
        if not quantity:
            return Decimal(0)
        rate = _rate(prices.get(table_name, {}), provider)
        if rate is None:
            unpriced.append(f"{table_name}:{provider}")
            return Decimal(0)
        return quantity * rate

    minutes = Decimal(math.ceil(int(usage.get("telephony_seconds") or 0) / 60))
    telephony = part("telephony_per_minute", str(usage.get("telephony_provider", "")), minutes)
    tts = part("tts_per_1k_characters", str(usage.get("tts_provider", "")),
               Decimal(int(usage.get("tts_characters") or 0)) / PER["tts"])  # fmt: skip
    stt = part("stt_per_minute", str(usage.get("stt_provider", "")),
               Decimal(str(usage.get("stt_seconds") or 0)) / PER["stt"])  # fmt: skip
    llm = _llm_cost(prices, str(usage.get("llm_model", "")), int(usage.get("llm_prompt_tokens") or 0),
                    int(usage.get("llm_completion_tokens") or 0), unpriced)  # fmt: skip
    llm += _llm_cost(prices, str(usage.get("analysis_model", "")), int(usage.get("analysis_prompt_tokens") or 0),
                     int(usage.get("analysis_completion_tokens") or 0), unpriced)  # fmt: skip
    parts = {name: value.quantize(PLACES) for name, value in
             (("telephony", telephony), ("tts", tts), ("stt", stt), ("llm", llm))}  # fmt: skip
    return {**parts, "total": sum(parts.values(), Decimal(0)).quantize(PLACES), "unpriced": unpriced}
