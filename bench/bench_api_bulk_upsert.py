"""API bulk upsert: contacts/s of POST /api/v1/contacts/bulk/ with 10,000 contacts into PostgreSQL, beside the
file import's own job on the same 10,000 rows as a CSV (the same row rules, in one process).

Ours is the whole request in process (Django's test client through every middleware: token, idempotency
key, throttles, JSON parsing, the row rules, the writer, the per-row answer), on an empty contacts table
("new") and again with the same records ("again": every row meets its stored contact, so it is merged and
found unchanged). The peer is `contact_import_job_execute` on the same rows written as a CSV, in the same
process (its chunks read inline: CONTACT_IMPORT_PARSE_WORKERS=1), from its start to the job's end.
Records: 70% US national formats, 28% international, 2% invalid, 5% repeats (the import bench's mix).

Run: `BENCH_DATABASE_URL=postgres://… make bench ONLY=api_bulk_upsert`.
"""

import json
import os
import random
import time

from bench.bench_contact_import import INVALID, international_number, us_number
from bench.django_setup import setup_django
from bench.harness import Figure, median, write_result

RECORDS = int(os.environ.get("BENCH_BULK_RECORDS", "10000"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "5"))
TARGET = 10_000  # contacts/s (issue 19)


def records(seed: int = 19) -> list[dict[str, object]]:
    rng = random.Random(seed)
    numbers: list[str] = []
    out = []
    for index in range(RECORDS):
        roll = rng.random()
        if roll < 0.02:
            phone = rng.choice(INVALID)
        elif roll < 0.07 and numbers:
            phone = rng.choice(numbers).replace(" ", "")
        else:
            phone = us_number(rng) if rng.random() < 0.72 else international_number(rng)
            numbers.append(phone)
        out.append(
            {
                "phone": phone,
                "first_name": rng.choice(["Ada", "Grace", "Alan", "Marie", "Hedy"]),
                "last_name": rng.choice(["Byron", "Hopper", "Turing", "Curie", "Lamarr"]),
                "email": f"person{index}@example.com",
                "custom_fields": {"external_id": f"crm-{index}", "plan": rng.choice(["basic", "gold"])},
            }
        )
    return out


def as_csv(batch: list[dict[str, object]]) -> bytes:
    lines = ["phone,first_name,last_name,email,external_id,plan"]
    for record in batch:
        custom = record["custom_fields"]
        lines.append(
            f'"{record["phone"]}",{record["first_name"]},{record["last_name"]},{record["email"]},'
            f"{custom['external_id']},{custom['plan']}"
        )
    return ("\n".join(lines) + "\n").encode()


def empty_contacts() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE contacts_contact, contacts_contact_lists, contacts_consent CASCADE")


def main() -> None:
    setup_django()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from django.test import Client

    from campaigns.integrations.tokens import integration_token_create
    from contacts.importing.jobs import contact_import_job_execute
    from contacts.models import ContactImportJob
    from contacts.phone_numbers import parse_phone_number_or_reason

    settings.API_RATE_PER_TOKEN = settings.API_RATE_PER_IP = ""
    settings.CONTACT_IMPORT_PARSE_WORKERS = 1
    user, _ = get_user_model().objects.get_or_create(username="bench-integration")
    user.groups.add(Group.objects.get(name="integration"))
    _, key = integration_token_create(name="bench", user=user, scope="read_write")
    client = Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Bearer {key}")
    batch = records()
    body = json.dumps({"contacts": batch})
    new, again, peer = [], [], []
    counts = {}
    for repeat in range(REPEATS):
        empty_contacts()
        for samples in (new, again):
            parse_phone_number_or_reason.cache_clear()  # each run parses its numbers, as a first request would
            started = time.perf_counter()
            response = client.post(
                "/api/v1/contacts/bulk/",
                body,
                content_type="application/json",
                HTTP_IDEMPOTENCY_KEY=f"r{repeat}{id(samples)}",
            )
            samples.append(RECORDS / (time.perf_counter() - started))
            if response.status_code != 200:
                raise RuntimeError(f"bulk upsert answered {response.status_code}: {response.content[:500]!r}")
            counts[id(samples)] = response.json()["counts"]
        empty_contacts()
        name = default_storage.save("contact-imports/bench-bulk.csv", ContentFile(as_csv(batch)))
        job = ContactImportJob.objects.create(file_name=name, original_name="bench.csv", file_format="csv")
        parse_phone_number_or_reason.cache_clear()
        started = time.perf_counter()
        job = contact_import_job_execute(job_id=job.pk)
        peer.append(RECORDS / (time.perf_counter() - started))
        if job.status != "done":
            raise RuntimeError(f"the import job failed: {job.error}")
    ours_new = median(new)
    figures = [
        Figure("bulk upsert, new contacts", "contacts/s", ours_new, new, "file import job, same rows", median(peer),
               f"≥ {TARGET:,}/s", ours_new >= TARGET),
        Figure("bulk upsert, the same contacts again", "contacts/s", median(again), again, "file import job, same rows",
               median(peer), f"≥ {TARGET:,}/s", median(again) >= TARGET),
    ]  # fmt: skip
    notes = (
        f"load average at the end {os.getloadavg()[0]:.1f} (2 cores shared with other work: quote the ratio). "
        f"{RECORDS:,} records a request, {REPEATS} repeats; outcomes new {counts[id(new)]}, "
        f"again {counts[id(again)]}. The request includes JSON parsing, token, idempotency and the per-row answer."
    )
    write_result("api_bulk_upsert", "API bulk upsert (10,000 contacts a request)", figures, notes)
    for figure in figures:
        print(f"{figure.metric}: {figure.ours:,.0f} {figure.unit} (peer {figure.peer:,.0f}, {figure.ratio:.2f}×)")


if __name__ == "__main__":
    main()
