"""Campaign report: a 100,000-call campaign's workbook + CSV zip built on PostgreSQL, time and peak memory.

The campaign: 40,000 targets and 100,000 calls over a week (a third answered, with summaries, dispositions and
five extracted fields), 3 agent replies with latencies per answered call. Each repeat builds the report in a
fresh process (`campaign_report_build`, as the Celery task does) and records its wall time and peak RSS.

Ceiling, in the same run: the same calls and targets read with the same `.iterator()` queries and written with
the csv module alone — the database and Python's row handling without any spreadsheet. Targets: < 30 s and
< 500 MB for the whole report.
"""

import datetime
import json
import os
import random
import resource
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

from bench.django_setup import setup_django
from bench.harness import DEFAULT_BENCH_DATABASE_URL, Figure, median, write_result

CALLS = int(os.environ.get("BENCH_REPORT_CALLS", "100000"))
TARGETS = int(os.environ.get("BENCH_REPORT_TARGETS", str(CALLS * 2 // 5)))
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
SCHEMA = {
    "type": "object",
    "properties": {
        "identity_confirmed": {"type": "boolean"},
        "will_pay": {"type": "boolean"},
        "amount_promised": {"type": "number"},
        "promised_date": {"type": "string", "format": "date"},
        "payment_method": {"type": "string", "enum": ["card", "bank_transfer", "cash", "unknown"]},
    },
}
DISPOSITIONS = ["reached", "agreed", "not_interested", "callback_requested", "wrong_number", "voicemail"]


def build_campaign() -> int:
    from django.db import connection

    from calls.models import Call, TranscriptTurn
    from campaigns.models import Agent, Campaign, CampaignTarget
    from contacts.models import Contact

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE calls_transcriptturn, calls_callevent, calls_call, campaigns_campaignreport, "
            "campaigns_campaigntarget, campaigns_campaign_contact_lists, campaigns_campaign, contacts_contact_lists, "
            "contacts_consent, contacts_contact, contacts_contactlist CASCADE"
        )
    agent, _ = Agent.objects.update_or_create(
        name="Bench agent", defaults={"system_prompt": "x", "first_message": "x", "outcome_schema": SCHEMA}
    )
    campaign = Campaign.objects.create(name="Bench report campaign", agent=agent)
    contacts = Contact.objects.bulk_create(
        [Contact(first_name=f"First{n}", last_name=f"Last{n}", phone=f"+1202{n:07d}", time_zone="America/New_York",
                 country="US", email=f"person{n}@example.com") for n in range(TARGETS)], batch_size=5000,
    )  # fmt: skip
    targets = CampaignTarget.objects.bulk_create(
        [CampaignTarget(campaign=campaign, contact=contact, state="done", attempts=3) for contact in contacts],
        batch_size=5000,
    )
    rng = random.Random(20)
    start = datetime.datetime(2026, 11, 23, 13, tzinfo=datetime.UTC)
    batch: list[Call] = []
    turns: list[TranscriptTurn] = []
    for number in range(CALLS):
        target = targets[number % TARGETS]
        placed = start + datetime.timedelta(seconds=rng.randrange(7 * 24 * 3600))
        roll = rng.random()
        status, answered_by = (("completed", "human") if roll < 0.28 else ("completed", "machine_end_beep")
                               if roll < 0.36 else ("busy", "") if roll < 0.5 else ("no_answer", ""))  # fmt: skip
        answered = status == "completed"
        call = Call(
            contact_id=target.contact_id, campaign=campaign, agent=agent, target=target, to_phone=f"+1202{number:07d}",
            provider="simulated", status=status, answered_by=answered_by, started_at=placed,
            answered_at=placed if answered else None, ended_at=placed + datetime.timedelta(seconds=60),
            duration_seconds=rng.randrange(10, 300) if answered else None,
            price=Decimal("0.0140") if answered else None, price_unit="USD" if answered else "",
            outcome="completed" if answered else "", disposition=rng.choice(DISPOSITIONS) if answered else "",
            sentiment=rng.choice(["positive", "neutral", "negative"]) if answered else "",
            summary=("The callee confirmed who they are and said they would pay 120.50 by card on Friday; "
                     "they asked for a receipt by email. Polite throughout.") if answered else "",
            extracted_data={"identity_confirmed": True, "will_pay": rng.random() < 0.5, "amount_promised": 120.5,
                            "promised_date": "2026-12-04", "payment_method": "card"} if answered else {},
            analysis_status="done" if answered else "skipped", cost=Decimal("0.05") if answered else Decimal(0),
            cost_telephony=Decimal("0.028"), cost_tts=Decimal("0.01"), cost_stt=Decimal("0.002"),
            cost_llm=Decimal("0.01"), cost_currency="USD",
            usage={"tts_provider": "elevenlabs", "stt_provider": "openai", "llm_model": "gpt-4o-mini"},
        )  # fmt: skip
        batch.append(call)
        if answered:
            turns.extend(
                TranscriptTurn(call=call, index=index, role="agent", text="reply",
                               first_audio_heard_ms=rng.randrange(500, 1500),
                               first_audio_sent_ms=rng.randrange(300, 900))
                for index in (2, 4, 6)
            )  # fmt: skip
        if len(batch) >= 5000:
            Call.objects.bulk_create(batch)
            TranscriptTurn.objects.bulk_create(turns)
            batch, turns = [], []
    Call.objects.bulk_create(batch)
    TranscriptTurn.objects.bulk_create(turns)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return campaign.pk


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM). Not `ru_maxrss`: Linux keeps that across exec, so a child
    forked from a large parent would report the parent's size."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def existing_campaign() -> int | None:
    """The seeded campaign of an earlier run, when it has the calls asked for (seeding takes minutes)."""
    from calls.models import Call
    from campaigns.models import Campaign

    campaign = Campaign.objects.filter(name="Bench report campaign").first()
    if campaign is None or Call.objects.filter(campaign=campaign).count() != CALLS:
        return None
    return campaign.pk


def build_once(campaign_id: int) -> None:
    """In a child process: build one report; print its seconds and the process's peak RSS (MB) as JSON."""
    from campaigns.models import CampaignReport
    from campaigns.reports.build import campaign_report_build

    report = CampaignReport.objects.create(campaign_id=campaign_id, time_zone="America/New_York")
    before = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = before.ru_utime + before.ru_stime
    began = time.perf_counter()
    status = campaign_report_build(report_id=report.pk)
    seconds = time.perf_counter() - began
    report.refresh_from_db()
    size = report.workbook.size + report.csv_archive.size
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak_mb = peak_rss_mb()
    cpu = usage.ru_utime + usage.ru_stime - cpu_before
    report.workbook.delete(save=False)
    report.csv_archive.delete(save=False)
    print(json.dumps({"status": status, "seconds": seconds, "cpu_seconds": cpu, "peak_mb": peak_mb, "bytes": size}))


def ceiling_once(campaign_id: int) -> None:
    """In a child process: the same rows read the same way, written with the csv module only."""
    import csv
    import tempfile

    from campaigns.reports.figures import call_rows, target_rows

    before = resource.getrusage(resource.RUSAGE_SELF)
    began = time.perf_counter()
    with tempfile.TemporaryFile("w+", newline="") as out:
        writer = csv.writer(out)
        for row in target_rows(campaign_id):
            writer.writerow([*row.target.values(), row.calls, row.disposition, row.summary, *row.extracted.values()])
        for call in call_rows(campaign_id):
            writer.writerow(call.values())
    seconds = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "peak_mb": peak_rss_mb()}))


def child(mode: str, campaign_id: int) -> dict:
    output = subprocess.run([sys.executable, "-m", "bench.bench_reports", mode, str(campaign_id)],
                            capture_output=True, text=True, check=True, env=os.environ)  # fmt: skip
    return json.loads(output.stdout.strip().splitlines()[-1])


def main() -> None:
    setup_django()
    began = time.perf_counter()
    campaign_id = existing_campaign() or build_campaign()
    print(f"seeded {CALLS} calls, {TARGETS} targets in {time.perf_counter() - began:.0f} s", flush=True)
    builds, ceilings = [], []
    for _ in range(REPEATS):
        builds.append(child("--build", campaign_id))
        ceilings.append(child("--ceiling", campaign_id))
        print(builds[-1], ceilings[-1], flush=True)
    assert all(build["status"] == "done" for build in builds)  # noqa: S101 - a failed build is no figure
    seconds = [build["seconds"] for build in builds]
    cpu = [build["cpu_seconds"] for build in builds]
    memory = [build["peak_mb"] for build in builds]
    ceiling_seconds = [ceiling["seconds"] for ceiling in ceilings]
    ceiling_cpu = [ceiling["cpu_seconds"] for ceiling in ceilings]
    load = os.getloadavg()[0]
    figures = [
        Figure(f"report build, {CALLS:,} calls ({TARGETS:,} targets), wall time", "s", median(seconds), seconds,
               peer_name="csv-only read of the same rows", peer=median(ceiling_seconds), target="< 30 s",
               met=median(seconds) < 30, higher_is_better=False),
        Figure("report build, CPU time of the building process", "s", median(cpu), cpu,
               peer_name="csv-only read", peer=median(ceiling_cpu), target="< 30 s", met=median(cpu) < 30,
               higher_is_better=False),
        Figure("report build, peak memory of the process", "MB", median(memory), memory,
               peer_name="csv-only read", peer=median([ceiling["peak_mb"] for ceiling in ceilings]),
               target="< 500 MB", met=max(memory) < 500, higher_is_better=False),
    ]  # fmt: skip
    size_mb = builds[-1]["bytes"] / 2**20
    write_result("reports", "Campaign report (PostgreSQL)", figures,
                 notes=f"workbook + CSV zip: {size_mb:.1f} MB; worst peak {max(memory):.0f} MB; "
                       f"1-minute load average at the end {load:.1f} on {os.cpu_count()} cores (wall time "
                       "waits for CPU when the machine is shared; CPU time does not)")  # fmt: skip


if __name__ == "__main__":
    if len(sys.argv) == 3:
        # The parent migrated the database: the child only starts Django, so its peak RSS is the report's
        # (Django loaded, then the build), not the migration graph's.
        os.environ.update(DJANGO_SETTINGS_MODULE="config.settings.local", DJANGO_DEBUG="False",
                          DATABASE_URL=os.environ.get("BENCH_DATABASE_URL", DEFAULT_BENCH_DATABASE_URL),
                          CELERY_BROKER_URL="memory://", REDIS_URL="", DJANGO_LOG_LEVEL="WARNING")  # fmt: skip
        import django

        django.setup()
        {"--build": build_once, "--ceiling": ceiling_once}[sys.argv[1]](int(sys.argv[2]))
    else:
        main()
