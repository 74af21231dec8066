"""API list endpoints with 1M calls in PostgreSQL: p99 of a page, the cursor pagination's against the page-number
pagination's (which counts every matching row for each page).

The calls (1,000,000 over 90 days, 10 campaigns, 10,000 contacts) are made once by SQL in the benchmark
database and kept. Each request runs in process through Django's test client and every middleware (token,
axes' lockout check, throttles on Redis as in production, filters, serializer); the clock is the request's.
Scenarios: the first page; pages 2–5 by their `next` cursor; filtered by campaign, by status, by contact,
by a date; the contacts list; the first page of a token granted one campaign only (object permissions). The
peer is the same first page and the campaign filter through DRF's PageNumberPagination (its COUNT(*) over the
matching calls each time), in the same run; for the granted token, the same calls read by `?campaign=`.

Run: `BENCH_DATABASE_URL=postgres://… BENCH_REDIS_URL=redis://… make bench ONLY=api_lists`.
"""

import datetime
import os
import time

from bench.django_setup import setup_django
from bench.harness import Figure, percentile, write_result

CALLS = int(os.environ.get("BENCH_CALLS", "1000000"))
REQUESTS = int(os.environ.get("BENCH_LIST_REQUESTS", "200"))
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/3")
TARGET_MS = 100


def ensure_calls() -> None:
    """1M calls (and their contacts, agent, campaigns), inserted by SQL once."""
    from django.db import connection

    from calls.models import Call
    from campaigns.models import Agent, Campaign
    from contacts.models import Contact

    if Call.objects.count() >= CALLS:
        return
    agent, _ = Agent.objects.get_or_create(
        name="bench agent", defaults={"system_prompt": "x", "first_message": "Hello, this is an automated call."}
    )
    campaigns = [Campaign.objects.get_or_create(name=f"bench {n}", agent=agent)[0].pk for n in range(10)]
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO contacts_contact (first_name, last_name, phone, email, country, time_zone,"
            " time_zone_candidates, time_zone_ambiguous, language, custom_fields, created_at, updated_at)"
            " SELECT 'Bench', 'Contact', '+1202' || lpad(n::text, 7, '0'), '', 'US', 'America/New_York', '[]',"
            " false, '', '{}', now(), now() FROM generate_series(1, 10000) n ON CONFLICT DO NOTHING"
        )
        first_contact = Contact.objects.filter(phone__startswith="+1202000").order_by("pk").values_list("pk", flat=True)
        base = first_contact[0]
        cursor.execute(
            "INSERT INTO calls_call (id, contact_id, campaign_id, agent_id, direction, to_phone, from_phone,"
            " ring_timeout_seconds, max_duration_seconds, answering_machine_policy, record, provider, provider_call_id,"
            " status, answered_by, created_at, started_at, answered_at, ended_at, duration_seconds, price_unit,"
            " recording_url, failure_reason, outcome, summary, sentiment, extracted_data, latency_stats,"
            " analysis_attempts, analysis_error, analysis_model, analysis_status, cost_currency, disposition, usage,"
            " recording_error, recording_file, recording_sid, recording_status)"
            " SELECT gen_random_uuid(), %s + (n %% 10000), (%s)[1 + n %% 10], %s, 'outbound', '+12025550143', '',"
            " 30, 600, 'off', false, 'simulated', '', s.status, '', t, t, t, t + interval '40 seconds', 40, '', '', '',"
            " s.status, '', '', '{}', '{}', 0, '', '', '', '', '', '{}', '', '', '', ''"
            " FROM generate_series(1, %s) n,"
            " LATERAL (SELECT (ARRAY['completed','busy','no_answer','completed','failed'])[1 + n %% 5] AS status,"
            "                 now() - (n * interval '90 days' / %s) AS t) s",
            [base, campaigns, agent.pk, CALLS, CALLS],
        )
        cursor.execute("ANALYZE calls_call")


def timed(client: object, url: str, n: int) -> tuple[list[float], object]:
    samples, response = [], None
    for _ in range(n):
        started = time.perf_counter()
        response = client.get(url)
        samples.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"{url} answered {response.status_code}: {response.content[:300]!r}")
    return samples, response


def main() -> None:
    setup_django(redis_url=REDIS_URL)
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.test import Client
    from guardian.shortcuts import assign_perm

    from calls.apis import CallViewSet
    from campaigns.integrations.tokens import integration_token_create
    from campaigns.models import Campaign
    from contacts.models import Contact

    ensure_calls()
    settings.API_RATE_PER_TOKEN = settings.API_RATE_PER_IP = ""
    user, _ = get_user_model().objects.get_or_create(username="bench-lists")
    user.groups.add(Group.objects.get(name="integration"))
    client = Client(
        HTTP_HOST="localhost",
        HTTP_AUTHORIZATION=f"Bearer {integration_token_create(name='bench', user=user, scope='read_only')[1]}",
    )
    campaign = Campaign.objects.filter(name="bench 3").values_list("pk", flat=True).get()
    contact = Contact.objects.filter(phone="+12020004242").values_list("pk", flat=True).get()
    since = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=30)).isoformat()
    timed(client, "/api/v1/calls/", 20)  # warm up: connections, caches, the planner
    scenarios = {
        "first page": "/api/v1/calls/",
        "by campaign": f"/api/v1/calls/?campaign={campaign}",
        "by status": "/api/v1/calls/?status=busy",
        "by contact": f"/api/v1/calls/?contact={contact}",
        "by date": f"/api/v1/calls/?created_after={since.replace('+', '%2B')}",
        "contacts, first page": "/api/v1/contacts/",
    }
    results = {name: timed(client, url, REQUESTS)[0] for name, url in scenarios.items()}
    # A token holding no model permission, granted one campaign (django-guardian): its list is that campaign's
    # calls, found through the grant; the peer is the same calls read with the model permission (?campaign=).
    granted_user, _ = get_user_model().objects.get_or_create(username="bench-lists-granted")
    assign_perm("campaigns.view_campaign", granted_user, Campaign.objects.get(pk=campaign))
    granted_client = Client(
        HTTP_HOST="localhost",
        HTTP_AUTHORIZATION=f"Bearer {integration_token_create(name='bench', user=granted_user, scope='read_only')[1]}",
    )
    timed(granted_client, "/api/v1/calls/", 20)
    results["first page, one campaign granted"] = timed(granted_client, "/api/v1/calls/", REQUESTS)[0]
    pages: list[float] = []
    for _ in range(REQUESTS // 4):
        url = "/api/v1/calls/"
        for _ in range(5):
            samples, response = timed(client, url, 1)
            pages += samples
            url = response.json()["next"].replace("http://localhost", "")
    results["pages 1–5 by cursor"] = pages
    # The peer: DRF's page-number pagination on the same view (a COUNT(*) of the matching rows per page).
    from rest_framework.pagination import PageNumberPagination

    CallViewSet.pagination_class = PageNumberPagination
    peer = {
        "first page": timed(client, "/api/v1/calls/", REQUESTS // 4)[0],
        "by campaign": timed(client, f"/api/v1/calls/?campaign={campaign}", REQUESTS // 4)[0],
    }
    peer_names = dict.fromkeys(peer, "page-number pagination (COUNT)")
    peer["first page, one campaign granted"] = results["by campaign"]
    peer_names["first page, one campaign granted"] = "the same calls by the model permission (?campaign=)"
    figures = []
    for name, samples in results.items():
        p99 = percentile(samples, 99)
        peer_samples = peer.get(name)
        figures.append(
            Figure(
                f"p99 GET, calls {name}" if not name.startswith("contacts") else f"p99 GET, {name}",
                "ms", p99, samples, peer_names.get(name, ""),
                percentile(peer_samples, 99) if peer_samples else None,
                f"< {TARGET_MS} ms", p99 < TARGET_MS, higher_is_better=False,
            )
        )  # fmt: skip
    notes = (
        f"{CALLS:,} calls, {REQUESTS} requests a scenario; load average at the end {os.getloadavg()[0]:.1f} "
        "(2 cores shared with other work)."
    )
    write_result("api_lists", "API list endpoints (1M calls, PostgreSQL)", figures, notes)
    for figure in figures:
        peer_text = f" (peer {figure.peer:,.1f} ms)" if figure.peer else ""
        print(f"{figure.metric}: {figure.ours:,.1f} ms{peer_text}")


if __name__ == "__main__":
    main()
