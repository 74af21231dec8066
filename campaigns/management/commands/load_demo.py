"""`manage.py load_demo`: an admin login and a small demo: contacts, lists, agents and two draft campaigns, one
in English and one in Spanish (people in Spain and Mexico).

Safe to run again (`make run` runs it at every start): it creates only what is missing. What exists is
left as it is — an edited demo contact, agent or campaign keeps its edits, and the admin keeps the
password (and so every logged-in session: Django ties a session to the password hash). The password is
chosen once, when the admin is created, and kept in `var/demo-admin-password.txt` (mode 0600), which
`manage.py demo_login` shows again.
"""

import datetime
import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from campaigns.models import Agent, Campaign
from contacts.models import Contact, ContactList, Suppression
from contacts.phone_numbers import parse_phone_number
from contacts.services import contact_upsert

# Fictional numbers reserved for drama/testing in their countries. On the simulated carrier the last
# digit picks who answers (voice/providers/simulated/personas.py): 0 busy, 1 no answer, 2 voicemail,
# 4 asks to be removed, 5 hangs up mid-call, 6 asks to be called back at five, 7 interrupts, others answer and talk.
DEMO_CONTACTS = [  # first name, last name, phone as people write it, language, amount due
    ("Ada", "Byron", "+1 202 555 0143", "", "120.00"),
    ("Grace", "Hopper", "(312) 555-0178", "", "89.50"),
    ("Alan", "Turing", "+44 20 7946 0958", "en-GB", "42.00"),
    ("Marie", "Curie", "+33 1 99 00 12 34", "fr-FR", "15.00"),
    ("Lise", "Meitner", "+61 491 570 156", "", "230.00"),
    ("Edsger", "Dijkstra", "+1 202 555 0110", "", "64.00"),
    ("Barbara", "Liskov", "+1 202 555 0121", "", "18.25"),
    ("Donald", "Knuth", "+1 415 555 0132", "", "2.56"),
    ("Margaret", "Hamilton", "+1 312 555 0165", "", "99.00"),
    ("Dennis", "Ritchie", "+1 202 555 0187", "", "75.10"),
    ("Ken", "Thompson", "+1 202 555 0199", "", "10.00"),
]
# What the post-call analysis extracts from each demo call, typed (the report's per-contact columns).
DEMO_OUTCOME_SCHEMA = {
    "type": "object",
    "properties": {
        "identity_confirmed": {"type": "boolean", "description": "The callee confirmed who they are."},
        "will_pay": {"type": "boolean", "description": "The callee said they will pay."},
        "amount_promised": {"type": "number", "minimum": 0, "description": "The amount they promised to pay."},
        "promised_date": {"type": "string", "format": "date", "description": "The day they promised to pay by."},
        "payment_method": {"type": "string", "enum": ["card", "bank_transfer", "cash", "unknown"]},
    },
    "required": ["identity_confirmed", "will_pay"],
}
DEMO_SUPPRESSED = {"+12025550199": "Asked not to be called (letter)"}
# Short retries so an operator sees busy and unanswered numbers come round again within minutes.
DEMO_RETRY_POLICY = {
    "busy": {"delay_minutes": 2, "max_attempts": 3},
    "no_answer": {"delay_minutes": 3, "max_attempts": 3},
    "failed": {"delay_minutes": 5, "max_attempts": 2},
    "voicemail": {"delay_minutes": 10, "max_attempts": 2},
}
ADMIN_USERNAME = "admin"

# The Spanish campaign beside it: a Spanish agent calling people in Spain and Mexico, each with their zone, so
# the calling window is theirs. The simulated callees answer a Spanish agent in Spanish (same last-digit
# personas: 3, 8 talk, 4 asks to be removed, 6 asks to be called back at five, 2 voicemail, 7 interrupts, 0 busy).
SPANISH_DEMO_CONTACTS = [  # first name, last name, phone, IANA zone, amount due
    ("Lucía", "Martín", "+34 612 345 673", "Europe/Madrid", "120,00"),
    ("Javier", "Ruiz", "+34 622 000 114", "Europe/Madrid", "45,50"),
    ("Carmen", "Díaz", "928 000 016", "Atlantic/Canary", "80,00"),  # national: the list's region (ES)
    ("María", "López", "+52 55 1234 5678", "America/Mexico_City", "1.250,00"),
    ("José", "Hernández", "+52 81 1234 5672", "America/Monterrey", "300,00"),
    ("Ana", "García", "+52 664 123 4567", "America/Tijuana", "99,90"),
    ("Pedro", "Sánchez", "+52 33 1234 5670", "America/Mexico_City", "15,00"),
]
SPANISH_DEMO_LIST = "Demo: recordatorios de pago (España y México)"
SPANISH_DEMO_AGENT = {
    "language": "es-ES",
    "system_prompt": (
        "Eres un asistente amable que llama en nombre de Suministros Ejemplo por una factura pendiente. "
        "Confirma que hablas con {{first_name}}, dile que hay {{amount_due}} euros o pesos pendientes, ofrece "
        "volver a llamar cuando le venga mejor y despídete con educación. Nunca pidas datos de tarjeta."
    ),
    "first_message": (
        "Hola {{first_name}}, le habla un asistente automatizado de Suministros Ejemplo. Esta llamada usa "
        "inteligencia artificial y puede ser grabada. ¿Es un buen momento?"
    ),
    "voicemail_message": (
        "Hola {{first_name}}, este es un mensaje automatizado de Suministros Ejemplo sobre su cuenta. "
        "Por favor, devuélvanos la llamada cuando pueda."
    ),
}


def admin_password_file() -> Path:
    return Path(settings.VAR_DIR) / "demo-admin-password.txt"


# Both demo campaigns call every day within the legal hours, with the same attempts and retry policy.
DEMO_CAMPAIGN_SCHEDULE = {
    "days_of_week": [1, 2, 3, 4, 5, 6, 7],
    "window_start": datetime.time(8),
    "window_end": datetime.time(21),
    "max_attempts": 4,
    "max_attempts_per_24h": 4,
    "max_attempts_per_7d": 6,
    "retry_policy": DEMO_RETRY_POLICY,
}


class Command(BaseCommand):
    help = "Create what is missing of the demo (admin user, contacts, agent, campaign); change nothing that exists."

    def handle(self, *args: object, **options: object) -> None:
        self._ensure_admin()
        with transaction.atomic():
            self._load_demo_data()
        self.stdout.write("The admin login: `python manage.py demo_login` (or `make login`).")

    def _ensure_admin(self) -> None:
        """Create the admin with DJANGO_SUPERUSER_PASSWORD or a generated password; an existing one is untouched."""
        if get_user_model().objects.filter(username=ADMIN_USERNAME).exists():
            return
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD") or secrets.token_urlsafe(12)
        get_user_model().objects.create_superuser(username=ADMIN_USERNAME, email="admin@example.com", password=password)
        password_file = admin_password_file()
        password_file.touch(mode=0o600)
        password_file.chmod(0o600)  # touch's mode does not apply to a file that was already there
        password_file.write_text(password + "\n")
        self.stdout.write(f"Created the admin user '{ADMIN_USERNAME}'; its password is kept in {password_file}.")

    def _load_demo_data(self) -> None:
        demo_list, _ = ContactList.objects.get_or_create(
            name="Demo: payment reminders", defaults={"description": "Fictional people with fictional numbers."}
        )
        demo_phones = [parse_phone_number(phone).e164 for _, _, phone, _, _ in DEMO_CONTACTS]
        existing = set(Contact.objects.filter(phone__in=demo_phones).values_list("phone", flat=True))
        created = 0
        for (first_name, last_name, phone, language, amount_due), e164 in zip(DEMO_CONTACTS, demo_phones, strict=True):
            if e164 in existing:
                continue  # kept as the operator left it, lists included
            created += 1
            contact_upsert(
                phone=phone,
                first_name=first_name,
                last_name=last_name,
                language=language,
                custom_fields={"amount_due": amount_due},
                lists=[demo_list],
            )
        for phone, reason in DEMO_SUPPRESSED.items():
            Suppression.objects.get_or_create(
                phone=phone, defaults={"source": Suppression.Source.ADMIN, "reason": reason}
            )
        agent, _ = Agent.objects.get_or_create(
            name="Payment reminder (demo)",
            defaults={
                "system_prompt": (
                    "You are a polite assistant calling on behalf of Example Utilities about an unpaid bill. "
                    "Confirm you are speaking to {{first_name}}, tell them {{amount_due}} is due, offer to "
                    "schedule a callback, and end the call politely. Never ask for card details."
                ),
                "first_message": (
                    "Hello {{first_name}}, this is an automated assistant calling for Example Utilities. "
                    "This call uses AI and may be recorded. Is now a good time?"
                ),
                "voicemail_message": (
                    "Hello {{first_name}}, this is an automated message from Example Utilities about your "
                    "account. Please call us back at your convenience."
                ),
                "outcome_schema": DEMO_OUTCOME_SCHEMA,
            },
        )
        campaign, campaign_created = Campaign.objects.get_or_create(
            name="Spring payment reminders (demo)",
            defaults={
                "agent": agent,
                **DEMO_CAMPAIGN_SCHEDULE,
                "record_calls": True,  # the simulated carrier records too: calls get a recording to play
            },
        )
        if campaign_created:
            campaign.contact_lists.add(demo_list)
        self.stdout.write(
            f"Demo data: {created} contact(s) created, {len(DEMO_CONTACTS) - created} already there; "
            f"list '{demo_list}', agent '{agent}', campaign '{campaign}'."
        )
        self._load_spanish_demo()

    def _load_spanish_demo(self) -> None:
        """The Spanish campaign: created where missing, like the English one; nothing existing is changed."""
        demo_list, _ = ContactList.objects.get_or_create(
            name=SPANISH_DEMO_LIST,
            defaults={"description": "Personas y números ficticios.", "default_region": "ES"},
        )
        region = demo_list.default_region or "ES"
        phones = [parse_phone_number(phone, default_region=region).e164 for _, _, phone, _, _ in SPANISH_DEMO_CONTACTS]
        existing = set(Contact.objects.filter(phone__in=phones).values_list("phone", flat=True))
        created = 0
        for (first_name, last_name, _, zone, amount_due), e164 in zip(SPANISH_DEMO_CONTACTS, phones, strict=True):
            if e164 in existing:
                continue
            created += 1
            language = "es-MX" if e164.startswith("+52") else "es-ES"
            contact_upsert(phone=e164, first_name=first_name, last_name=last_name, language=language, time_zone=zone,
                           custom_fields={"amount_due": amount_due}, lists=[demo_list])  # fmt: skip
        agent, _ = Agent.objects.get_or_create(name="Recordatorio de pago (demo)", defaults=SPANISH_DEMO_AGENT)
        campaign, campaign_created = Campaign.objects.get_or_create(
            name="Recordatorios de pago de primavera (demo)",
            defaults={
                "agent": agent,
                **DEMO_CAMPAIGN_SCHEDULE,
            },
        )
        if campaign_created:
            campaign.contact_lists.add(demo_list)
        self.stdout.write(
            f"Spanish demo: {created} contact(s) created, {len(SPANISH_DEMO_CONTACTS) - created} already there; "
            f"list '{demo_list}', agent '{agent}', campaign '{campaign}'."
        )
