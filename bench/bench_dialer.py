"""Dialer: gate + claim throughput per worker, and the calls-per-second held by 4 workers.

1. A 100k-target campaign on PostgreSQL: `campaign_dispatch` (claim with SKIP LOCKED, the dial-time gate,
   reschedule the refused, create the Calls) per second, in one process — beside the ceiling, the bare
   `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING` claim loop on the same table.
2. Four worker processes ticking the dispatcher against one campaign configured for 100 CPS, with the
   token bucket in Redis: the held rate over the measured window, double dials, and dials outside the
   callee-local window (checked afterwards for every Call against its contact's zone).
Calls are created (queued) but not handed to a carrier (`enqueue_call` is a no-op): this measures the
dialer alone.
"""

import datetime
import multiprocessing
import os
import resource
import time

from bench.django_setup import setup_django
from bench.harness import Figure, median, write_result

TARGETS = int(os.environ.get("BENCH_DIALER_TARGETS", "100000"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
CPS = 100.0
CPS_WORKERS = 4
CPS_SECONDS = float(os.environ.get("BENCH_CPS_SECONDS", "30"))
CPS_WARMUP_SECONDS = 5.0
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
# Spread round the world, so that whenever the benchmark runs some callees are inside their window.
ZONES = [
    "America/New_York", "America/Chicago", "America/Los_Angeles", "Europe/London", "Europe/Berlin",
    "Asia/Kolkata", "Asia/Kathmandu", "Asia/Tokyo", "Australia/Sydney", "Pacific/Auckland",
]  # fmt: skip


def build_campaign(name: str, count: int) -> int:
    from django.db import connection

    from campaigns.models import Agent, Campaign
    from campaigns.services import campaign_launch
    from contacts.models import Contact, ContactList

    Agent.objects.get_or_create(name="Bench agent", defaults={"system_prompt": "x", "first_message": "x"})
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE calls_transcriptturn, calls_callevent, calls_call, campaigns_campaigntarget, "
            "campaigns_campaign_contact_lists, campaigns_campaign, contacts_contact_lists, contacts_consent, "
            "contacts_contact, contacts_contactlist CASCADE"
        )
    contact_list = ContactList.objects.create(name=name)
    contacts = [Contact(phone=f"+1202{n:07d}", time_zone=ZONES[n % len(ZONES)], country="US") for n in range(count)]
    Contact.objects.bulk_create(contacts, batch_size=5000)
    through = Contact.lists.through
    through.objects.bulk_create(
        [through(contact_id=c.pk, contactlist_id=contact_list.pk) for c in contacts], batch_size=5000
    )
    campaign = Campaign.objects.create(
        name=name, agent=Agent.objects.get(name="Bench agent"), max_concurrent_calls=10_000_000,
        calls_per_second=CPS, days_of_week=[1, 2, 3, 4, 5, 6, 7], max_attempts_per_24h=5,
        window_start=datetime.time(8), window_end=datetime.time(21),
    )  # fmt: skip
    campaign.contact_lists.add(contact_list)
    campaign_launch(campaign_id=campaign.pk, now=datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=1))
    return campaign.pk


def reset_targets(campaign_id: int) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE calls_call CASCADE")
        cursor.execute(
            "UPDATE campaigns_campaigntarget SET state='pending', attempts=0, state_reason='', "
            "next_attempt_at = now() - interval '1 minute' WHERE campaign_id = %s",
            [campaign_id],
        )
        cursor.execute("VACUUM ANALYZE campaigns_campaigntarget")


class UnlimitedBucket:
    def take(self, key: str, *, rate: float, burst: float, want: int) -> int:
        return want

    def give_back(self, key: str, *, burst: float, count: int) -> None:
        return None


def measure_dispatch(campaign_id: int) -> tuple[float, int, int]:
    """Targets handled per second by one process until none is due; and how many dials / refusals."""
    from campaigns.models import CampaignTarget
    from campaigns.services import campaign_dispatch

    now = datetime.datetime.now(datetime.UTC)
    started = time.perf_counter()
    dials = refused = 0
    while True:
        result = campaign_dispatch(
            campaign_id=campaign_id, now=now, bucket=UnlimitedBucket(), enqueue_call=lambda _call_id: None
        )
        handled = len(result.call_ids) + sum(result.turned_away.values())
        dials, refused = dials + len(result.call_ids), refused + sum(result.turned_away.values())
        if handled == 0:
            break
    elapsed = time.perf_counter() - started
    left = CampaignTarget.objects.filter(campaign_id=campaign_id, state="pending", next_attempt_at__lte=now).count()
    if left:
        raise RuntimeError(f"{left} due targets were never handled")
    return (dials + refused) / elapsed, dials, refused


def measure_claim_ceiling(campaign_id: int) -> float:
    from django.db import connection, transaction

    started = time.perf_counter()
    claimed = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "UPDATE campaigns_campaigntarget SET state='in_progress', attempts = attempts + 1 WHERE id IN ("
                " SELECT id FROM campaigns_campaigntarget WHERE campaign_id = %s AND state = 'pending'"
                " AND next_attempt_at <= now() ORDER BY next_attempt_at LIMIT 500 FOR UPDATE SKIP LOCKED"
                ") RETURNING id",
                [campaign_id],
            )
            batch = len(cursor.fetchall())
        if batch == 0:
            break
        claimed += batch
    return claimed / (time.perf_counter() - started)


def cps_worker(campaign_id: int, stop_at: float, tick: float) -> None:
    setup_django(redis_url=REDIS_URL)
    from django.db import connections

    from campaigns.pacing import token_bucket
    from campaigns.services import campaign_dispatch

    bucket = token_bucket()
    while time.time() < stop_at:
        now = datetime.datetime.now(datetime.UTC)
        campaign_dispatch(campaign_id=campaign_id, now=now, bucket=bucket, enqueue_call=lambda _call_id: None)
        time.sleep(tick)
    connections.close_all()


def measure_held_cps(campaign_id: int) -> dict[str, float]:
    import redis
    from django.db import connections

    from calls.models import Call
    from campaigns.calling_hours import CallingWindow, is_open, zone
    from campaigns.models import Campaign
    from campaigns.pacing import campaign_bucket_key

    reset_targets(campaign_id)
    redis.Redis.from_url(REDIS_URL).delete(campaign_bucket_key(campaign_id))
    connections.close_all()
    started = time.time()
    stop_at = started + CPS_WARMUP_SECONDS + CPS_SECONDS
    workers = [
        multiprocessing.get_context("spawn").Process(target=cps_worker, args=(campaign_id, stop_at, 0.2))
        for _ in range(CPS_WORKERS)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    window_start = datetime.datetime.fromtimestamp(started + CPS_WARMUP_SECONDS, datetime.UTC)
    window_end = datetime.datetime.fromtimestamp(stop_at, datetime.UTC)
    measured = Call.objects.filter(created_at__gte=window_start, created_at__lt=window_end).count()
    per_target = Call.objects.values("target_id").order_by().distinct().count()
    campaign = Campaign.objects.get(pk=campaign_id)
    window = CallingWindow.clamped(campaign.window_start, campaign.window_end, campaign.days_of_week)
    outside = sum(
        1
        for created_at, zone_key in Call.objects.values_list("created_at", "contact__time_zone").iterator()
        if not is_open(created_at, window, [zone(zone_key)])
    )
    total = Call.objects.count()
    return {
        "held_cps": measured / CPS_SECONDS,
        "double_dials": total - per_target,
        "outside_window": outside,
        "total_calls": total,
    }


def main() -> None:
    setup_django(redis_url=REDIS_URL)
    campaign_id = build_campaign("Bench dialer", TARGETS)
    ours, ceiling, dial_counts = [], [], []
    for _ in range(REPEATS):
        reset_targets(campaign_id)
        rate, dials, refused = measure_dispatch(campaign_id)
        ours.append(rate)
        dial_counts.append((dials, refused))
        reset_targets(campaign_id)
        ceiling.append(measure_claim_ceiling(campaign_id))
    held = measure_held_cps(campaign_id)
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures = [
        Figure("gate + claim + create call, one worker", "targets/s", median(ours), ours,
               "bare SKIP LOCKED claim (ceiling)", median(ceiling), "≥ 2,000 targets/s", median(ours) >= 2000),
        Figure("held rate, 4 workers, Redis bucket", "calls/s", held["held_cps"], [held["held_cps"]],
               "configured", CPS, "100 CPS ± 2%", abs(held["held_cps"] - CPS) <= 0.02 * CPS),
        Figure("double dials", "calls", held["double_dials"], target="0", met=held["double_dials"] == 0,
               higher_is_better=False),
        Figure("dials outside the callee-local window", "calls", held["outside_window"], target="0",
               met=held["outside_window"] == 0, higher_is_better=False),
    ]  # fmt: skip
    notes = (
        f"{TARGETS:,} targets across {len(ZONES)} zones; dials/refusals per repeat: {dial_counts}; "
        f"CPS run {CPS_SECONDS:.0f} s after {CPS_WARMUP_SECONDS:.0f} s warm-up, {held['total_calls']} calls; "
        f"peak RSS of the measuring process {peak_rss_mb:.0f} MB. Calls are created, not placed: no carrier "
        "is involved."
    )
    write_result("dialer", "Dialer (100k-target campaign)", figures, notes)
    for figure in figures:
        print(f"{figure.metric}: {figure.ours:,.1f} {figure.unit} (peer {figure.peer}) met={figure.met}")


if __name__ == "__main__":
    main()
