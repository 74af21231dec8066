"""The background import's fast path (worker processes, packed hand-off, COPY on PostgreSQL) decides
every row of a messy file exactly as the admin's preview does, and stores what the preview said."""

import io
import random
import threading

import pytest
from django.db import connection

from contacts.importing import jobs, writers
from contacts.importing.preview import PREVIEW_ROWS, contact_import_preview
from contacts.models import Contact, ContactImportIssue, ContactList, Suppression
from contacts.services import suppression_add

pytestmark = pytest.mark.django_db

HEADER = ["Name", "Phone", "Email", "Time Zone", "Language", "Lists", "Consent", "Consent Given", "Plan", "Note"]
PHONES = ["(202) 555-{:04d}", "+1 312 555 {:04d}", "+44 20 7946 {:04d}", "+33 6 12 34 {:04d}", "+61 491 57{:04d}",
          "+49 30 123{:04d}", "+1 416 555 {:04d}", "202.555.{:04d}"]  # fmt: skip
BAD_PHONES = ["12345", "call me later", "+1 000 555 0143", "", "+1 202 555 0143 ext. 7", "home +1 202 555 0143 "
              "or work +1 312 555 0178", "x" * 70]  # fmt: skip
BAD_EMAILS = ["not-an-email", "a@b", "@example.com", "ada@@example.com"]
ZONES = ["", "", "", "Europe/Paris", "America/Chicago", "Mars/Olympus"]
CONSENTS = [("", ""), ("", ""), ("yes", "2024-01-02"), ("telemarketing", "2024-03-04 10:00"), ("maybe", "2024-01-01"),
            ("info", "not a date")]  # fmt: skip


def messy_csv(rows: int, values_seed: int = 7) -> bytes:
    """Every kind of row the rules tell apart, shuffled: bad numbers, emails, zones, consents, lists,
    over-long names, extra cells, blank lines, and numbers repeated in another format. The numbers are
    always the same; `values_seed` picks the other cells."""
    numbers, rng = random.Random(7), random.Random(values_seed)  # noqa: S311 - test data
    seen: list[str] = []
    lines = [",".join(HEADER)]
    for index in range(rows):
        roll = numbers.random()
        if roll < 0.06:
            phone = numbers.choice(BAD_PHONES)
        elif roll < 0.14 and seen:
            phone = numbers.choice(seen).replace(" ", "").replace(".", "-")
        else:
            phone = numbers.choice(PHONES).format(numbers.randint(100, 9999))
            seen.append(phone)
        name = rng.choice(["Ada Byron", "Grace  Hopper", "Zoë", "José Müller", "", "N" * 151 + " Long"])
        email = rng.choice(BAD_EMAILS) if rng.random() < 0.05 else rng.choice(["", f"p{index}@example.com"])
        lists = rng.choice(["", "", "VIP", "VIP; Late payers", "Late payers|VIP|"])
        purpose, given = rng.choice(CONSENTS)
        cells = [name, phone, email, rng.choice(ZONES), rng.choice(["", "fr", "en-GB"]), lists, purpose, given,
                 rng.choice(["gold", "", "basic"]), rng.choice(["", "call after 5", "=SUM(A1)"])]  # fmt: skip
        line = ",".join(f'"{cell}"' if "," in cell or " " in cell else cell for cell in cells)
        if rng.random() < 0.01:
            line += ",shifted,value"  # more cells than the header has columns
        if rng.random() < 0.01:
            lines.append("")
        lines.append(line)
    return ("\n".join(lines) + "\n").encode()


def preview_of(data: bytes):
    return contact_import_preview(stream=io.BytesIO(data), file_format="csv")


@pytest.mark.parametrize("workers", [1, 2])
def test_the_job_decides_each_row_as_the_preview_shows_it(run_import, monkeypatch, settings, workers):
    ContactList.objects.create(name="VIP")
    ContactList.objects.create(name="Late payers")
    suppression_add(phone="+13125550178", reason="asked", source=Suppression.Source.OPT_OUT)
    data = messy_csv(PREVIEW_ROWS - 50)
    shown = preview_of(data)
    assert not shown.is_partial
    monkeypatch.setattr(jobs, "PARALLEL_MIN_ROWS", 1)
    monkeypatch.setattr(jobs, "CHUNK_ROWS", 37)  # many chunks, so in-file repeats cross chunk boundaries
    settings.CONTACT_IMPORT_PARSE_WORKERS = workers
    job = run_import(data)
    assert job.status == "done", job.error
    issues = {i.row_number: (i.outcome, i.reason, i.values) for i in ContactImportIssue.objects.filter(job=job)}
    expected_issues = {
        d.row_number: (d.outcome.value, d.reason, d.cells) for d in shown.decisions if d.outcome.is_issue
    }
    assert issues == expected_issues
    assert len({reason for _, reason, _ in issues.values()}) > 10  # the file is messy enough to mean something
    written = {d.phone: d for d in shown.decisions if d.outcome.is_written}
    stored = {contact.phone: contact for contact in Contact.objects.prefetch_related("lists", "consents")}
    assert stored.keys() == written.keys()
    for phone, decision in written.items():
        contact = stored[phone]
        assert {name: getattr(contact, name) for name in decision.fields} == decision.fields, phone
        assert {item.name for item in contact.lists.all()} == set(decision.list_names)
        consents = [(c.purpose, c.given_at, c.source) for c in contact.consents.all()]
        wanted = decision.consent
        assert consents == ([(wanted["purpose"], wanted["given_at"], wanted["source"])] if wanted else [])
    counts = (job.created_count, job.updated_count, job.unchanged_count, job.skipped_count, job.rejected_count)
    assert counts == (
        len(written),
        0,
        0,
        shown.count(jobs.Outcome.DUPLICATE) + shown.count(jobs.Outcome.SUPPRESSED),
        shown.count(jobs.Outcome.REJECTED),
    )


@pytest.mark.parametrize("workers", [1, 2])
def test_a_second_import_of_an_edited_file_updates_as_the_preview_shows(run_import, monkeypatch, settings, workers):
    monkeypatch.setattr(jobs, "PARALLEL_MIN_ROWS", 1)
    monkeypatch.setattr(jobs, "CHUNK_ROWS", 50)
    settings.CONTACT_IMPORT_PARSE_WORKERS = workers
    assert run_import(messy_csv(400)).status == "done"
    edited = messy_csv(400, values_seed=8)  # the same numbers with other names, emails, zones, lists…
    shown = preview_of(edited)
    job = run_import(edited)
    issues = {i.row_number: (i.outcome, i.reason) for i in ContactImportIssue.objects.filter(job=job)}
    assert issues == {d.row_number: (d.outcome.value, d.reason) for d in shown.decisions if d.outcome.is_issue}
    assert (job.created_count, job.updated_count, job.unchanged_count) == tuple(
        shown.count(outcome) for outcome in (jobs.Outcome.CREATE, jobs.Outcome.UPDATE, jobs.Outcome.UNCHANGED)
    )
    assert job.updated_count > 10
    for decision in shown.decisions:
        if decision.outcome.is_written:
            contact = Contact.objects.get(phone=decision.phone)
            assert {name: getattr(contact, name) for name in decision.fields} == decision.fields


def insert_from_another_transaction_during_a_write(monkeypatch, *, at_write: int, phone: str) -> threading.Timer:
    """At the `at_write`-th `write_staged`, another session inserts a contact with `phone` and commits it
    0.5 s later, while that write waits on the row; return the timer, to be joined."""
    original_write = writers.PostgresCopyWriter.write_staged
    other = connection.get_new_connection(connection.get_connection_params())
    other.autocommit = False  # its insert stays uncommitted until the timer commits it
    committer = threading.Timer(0.5, lambda: (other.commit(), other.close()))
    writes = []

    def write_while_another_transaction_inserts(writer, batch, **options):
        writes.append(options)
        if len(writes) == at_write:
            other.execute(
                "INSERT INTO contacts_contact (phone, first_name, last_name, email, language, country, time_zone, "
                "time_zone_candidates, time_zone_ambiguous, custom_fields, created_at, updated_at) VALUES "
                "(%s, 'Meanwhile', '', '', '', 'US', '', '[]', false, '{}', now(), now())",
                [phone],
            )
            committer.start()  # the insert waits on this row, then finds it taken
        original_write(writer, batch, **options)

    monkeypatch.setattr(writers.PostgresCopyWriter, "write_staged", write_while_another_transaction_inserts)
    return committer


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the COPY writer is PostgreSQL's")
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("into_list", [True, False], ids=["staged", "copied-into-contacts"])
def test_a_number_another_transaction_creates_during_an_unchecked_insert_is_updated_not_lost(
    run_import, monkeypatch, into_list
):
    """The first chunk's numbers are not looked up: its INSERT (or COPY) meets the number another import
    created and committed meanwhile, and the chunk, decided again with the lookup, updates that contact."""
    committer = insert_from_another_transaction_during_a_write(monkeypatch, at_write=1, phone="+13125550178")
    clients = ContactList.objects.create(name="Clients") if into_list else None
    try:
        job = run_import(b"name,phone\nAda Byron,(202) 555-0143\nGrace Hopper,+1 312 555 0178\n", contact_list=clients)
    finally:
        committer.join()
    assert job.status == "done", job.error
    assert dict(Contact.objects.values_list("phone", "first_name")) == {
        "+12025550143": "Ada",
        "+13125550178": "Grace",
    }
    if into_list:
        assert set(clients.contacts.values_list("phone", flat=True)) == {"+12025550143", "+13125550178"}
    assert (job.created_count, job.updated_count) == (1, 1)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the COPY writer is PostgreSQL's")
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("into_list", [True, False], ids=["staged", "copied-into-contacts"])
def test_a_number_another_transaction_creates_after_the_lookup_is_updated_not_lost(run_import, monkeypatch, into_list):
    """After a chunk that met a stored contact the next chunk's numbers are looked up; one created by another
    transaction after that lookup makes the INSERT (or COPY) meet a unique violation, and the upsert
    updates it."""
    monkeypatch.setattr(jobs, "CHUNK_ROWS", 1)
    Contact.objects.create(phone="+12025550143", first_name="Ada")
    # Writes: chunk 1 unchecked (fails: Ada is stored), chunk 1 again, then chunk 2, looked up.
    committer = insert_from_another_transaction_during_a_write(monkeypatch, at_write=3, phone="+13125550178")
    clients = ContactList.objects.create(name="Clients") if into_list else None
    try:
        job = run_import(
            b"name,phone\nAda Lovelace,(202) 555-0143\nGrace Hopper,+1 312 555 0178\n", contact_list=clients
        )
    finally:
        committer.join()
    assert job.status == "done", job.error
    assert dict(Contact.objects.values_list("phone", "last_name")) == {
        "+12025550143": "Lovelace",
        "+13125550178": "Hopper",
    }
    if into_list:
        assert set(clients.contacts.values_list("phone", flat=True)) == {"+12025550143", "+13125550178"}
    assert (job.created_count, job.updated_count) == (1, 1)  # the second counted as created: it was new when read


SIX_ROWS = (
    b"name,phone,lists\nAda,(202) 555-0143,VIP\nGrace,(202) 555-0144,VIP\nAlan,(202) 555-0145,\n"
    b"Marie,(202) 555-0146,\nLise,(202) 555-0147,\nHedy,(202) 555-0148,VIP\n"
)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the COPY writer is PostgreSQL's")
@pytest.mark.parametrize("workers", [1, 2])
def test_a_file_of_new_numbers_is_not_looked_up_until_one_is_stored(run_import, monkeypatch, settings, workers):
    """Chunks of new numbers go to the INSERT without a lookup; the chunk meeting a stored contact is
    decided again with one, as is the chunk after it; the outcomes are the preview's."""
    monkeypatch.setattr(jobs, "PARALLEL_MIN_ROWS", 1)
    monkeypatch.setattr(jobs, "CHUNK_ROWS", 2)
    settings.CONTACT_IMPORT_PARSE_WORKERS = workers
    Contact.objects.create(phone="+12025550147", first_name="Stored")
    lookups = []
    original_stored_phones = jobs.ContactRowRules.stored_phones
    monkeypatch.setattr(
        jobs.ContactRowRules,
        "stored_phones",
        lambda rules, phones: lookups.append(sorted(phones)) or original_stored_phones(rules, phones),
    )
    data = SIX_ROWS + b"Emmy,(202) 555-0149,VIP\nAlan,(202) 555-0150,\nKath,(202) 555-0151,\nMary,(202) 555-0152,\n"
    shown = preview_of(data)
    job = run_import(data)
    assert job.status == "done", job.error
    # The third chunk meets the stored contact and the fourth is looked up after it; it met no one, so the
    # fifth is not.
    assert lookups == [["+12025550147", "+12025550148"], ["+12025550149", "+12025550150"]]
    assert (job.created_count, job.updated_count) == (shown.count(jobs.Outcome.CREATE), 1) == (9, 1)
    assert Contact.objects.get(phone="+12025550147").first_name == "Lise"
    assert Contact.objects.filter(lists__name="VIP").count() == 4
    assert Contact.objects.count() == 10


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the COPY writer is PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_the_progress_shows_while_the_contacts_wait_for_the_end_of_the_import(run_import, monkeypatch):
    """Each chunk's contacts are written as it comes, in the import's one transaction: another session
    sees the progress bar move chunk by chunk, and no contact until the import is done."""
    monkeypatch.setattr(jobs, "CHUNK_ROWS", 2)
    original_write = writers.PostgresCopyWriter.write_staged
    other = connection.get_new_connection(connection.get_connection_params())
    other.autocommit = True
    seen = []

    def write_and_look_from_another_session(writer, batch, **options):
        original_write(writer, batch, **options)
        (processed,) = other.execute("SELECT processed_rows FROM contacts_contactimportjob").fetchone()
        (contacts,) = other.execute("SELECT count(*) FROM contacts_contact").fetchone()
        seen.append((processed, contacts))

    monkeypatch.setattr(writers.PostgresCopyWriter, "write_staged", write_and_look_from_another_session)
    try:
        job = run_import(SIX_ROWS)
    finally:
        other.close()
    assert job.status == "done", job.error
    assert seen == [(0, 0), (2, 0), (4, 0)]
    assert (job.processed_rows, job.total_rows, job.created_count) == (6, 6, 6)
    assert Contact.objects.filter(lists__name="VIP").count() == 3


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the COPY writer is PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_an_import_failing_half_way_leaves_no_contact_behind(run_import, monkeypatch):
    monkeypatch.setattr(jobs, "CHUNK_ROWS", 2)
    original_write = writers.PostgresCopyWriter.write_staged
    writes = []

    def fail_at_the_third_chunk(writer, batch, **options):
        writes.append(batch)
        if len(writes) == 3:
            raise RuntimeError("the database went away")
        original_write(writer, batch, **options)

    monkeypatch.setattr(writers.PostgresCopyWriter, "write_staged", fail_at_the_third_chunk)
    with pytest.raises(RuntimeError, match="went away"):
        run_import(SIX_ROWS)
    job = jobs.ContactImportJob.objects.get()
    assert (job.status, job.error) == ("failed", "The import failed unexpectedly; nothing was imported.")
    assert not Contact.objects.exists()
    assert not ContactList.objects.filter(contacts__isnull=False).exists()


@pytest.mark.parametrize("workers", [1, 2])
def test_tabs_newlines_backslashes_and_quotes_are_stored_as_written(run_import, monkeypatch, settings, workers):
    """The COPY path formats its own lines: whatever COPY's text format escapes comes back unchanged."""
    monkeypatch.setattr(jobs, "PARALLEL_MIN_ROWS", 1)
    settings.CONTACT_IMPORT_PARSE_WORKERS = workers
    tricky = 'a\tb\\c\nd\r"e" Zoë'
    quoted = '"' + tricky.replace('"', '""') + '"'
    data = (
        "First Name,Phone,Lists,Note,Consent,Consent Given,Consent Source\n"
        f'{quoted},(202) 555-0143,"VIP \\ ""A"";Late, payers",{quoted},yes,2024-01-02,"desk\tphone"\n'
        "Grace,+44 20 7946 0958,,\\N,,,\n"
    ).encode()
    job = run_import(data)
    assert job.status == "done", job.error
    assert job.created_count == 2
    ada = Contact.objects.get(phone="+12025550143")
    assert ada.first_name == tricky.strip()
    assert ada.custom_fields == {"note": tricky.strip()}
    assert {item.name for item in ada.lists.all()} == {'VIP \\ "A"', "Late", "payers"}
    consents = [(c.source, c.given_at.isoformat()) for c in ada.consents.all()]
    assert consents == [("desk\tphone", "2024-01-02T00:00:00+00:00")]
    grace = Contact.objects.get(phone="+442079460958")
    assert grace.custom_fields == {"note": "\\N"}
    assert not grace.consents.exists()


@pytest.mark.parametrize("workers", [1, 2])
def test_new_contacts_copied_straight_into_contacts_keep_what_was_written_and_one_creation_time(
    run_import, monkeypatch, settings, workers
):
    """A file naming no list and no consent, into no list: its new contacts are copied into contacts
    itself (on PostgreSQL), escaped as COPY needs and created at the import transaction's time, as the
    staging path writes them."""
    monkeypatch.setattr(jobs, "PARALLEL_MIN_ROWS", 1)
    monkeypatch.setattr(jobs, "CHUNK_ROWS", 2)
    settings.CONTACT_IMPORT_PARSE_WORKERS = workers
    tricky = 'a\tb\\c\nd\r"e" Zoë'
    quoted = '"' + tricky.replace('"', '""') + '"'
    data = (
        "First Name,Phone,Note,Time Zone\n"
        f"{quoted},(202) 555-0143,{quoted},\n"
        "Grace,+44 20 7946 0958,\\N,\n"
        "Alan,(202) 555-0144,,Europe/Paris\n"
        "Hedy,+1 312 555 0178,,\n"
    ).encode()
    job = run_import(data)
    assert job.status == "done", job.error
    assert job.created_count == 4
    ada = Contact.objects.get(phone="+12025550143")
    assert (ada.first_name, ada.custom_fields) == (tricky.strip(), {"note": tricky.strip()})
    assert Contact.objects.get(phone="+442079460958").custom_fields == {"note": "\\N"}
    alan = Contact.objects.get(phone="+12025550144")
    assert (alan.country, alan.time_zone, alan.time_zone_candidates) == ("US", "Europe/Paris", ["America/New_York"])
    if connection.vendor == "postgresql":  # the ORM writer stamps each chunk with its own time
        times = set(Contact.objects.values_list("created_at", "updated_at"))
        assert len(times) == 1
        assert len(set(next(iter(times)))) == 1
