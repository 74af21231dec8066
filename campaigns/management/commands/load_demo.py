"""`manage.py load_demo`: an admin login and a small demo (contacts, a list, an agent, a draft campaign).

Safe to run again: it updates what it created before and adds nothing twice.
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
from contacts.models import ContactList, Suppression
from contacts.services import contact_upsert

# Fictional numbers reserved for drama/testing in their countries. On the simulated carrier the last
# digit picks who answers (voice/providers/simulated/personas.py): 0 busy, 1 no answer, 2 voicemail,
# 4 asks to be removed, 5 hangs up mid-call, 7 interrupts, others answer and talk.
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
DEMO_SUPPRESSED = {"+12025550199": "Asked not to be called (letter)"}
# Short retries so an operator sees busy and unanswered numbers come round again within minutes.
DEMO_RETRY_POLICY = {
    "busy": {"delay_minutes": 2, "max_attempts": 3},
    "no_answer": {"delay_minutes": 3, "max_attempts": 3},
    "failed": {"delay_minutes": 5, "max_attempts": 2},
    "voicemail": {"delay_minutes": 10, "max_attempts": 2},
}
ADMIN_USERNAME = "admin"


class Command(BaseCommand):
    help = "Create the demo admin user and demo data (idempotent), and print the admin login."

    def handle(self, *args: object, **options: object) -> None:
        password = self._ensure_admin()
        with transaction.atomic():
            self._load_demo_data()
        self.stdout.write(
            self.style.SUCCESS(
                "\nCallwright demo is ready.\n"
                "  Admin:    http://127.0.0.1:8000/admin/\n"
                f"  Login:    {ADMIN_USERNAME} / {password}\n"
                "  API docs: http://127.0.0.1:8000/api/docs/\n"
            )
        )

    def _ensure_admin(self) -> str:
        """Password from DJANGO_SUPERUSER_PASSWORD, else one generated on first run and kept in var/."""
        password_file = Path(settings.VAR_DIR) / "demo-admin-password.txt"
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD") or (
            password_file.read_text().strip() if password_file.exists() else secrets.token_urlsafe(12)
        )
        user, _ = get_user_model().objects.get_or_create(
            username=ADMIN_USERNAME, defaults={"email": "admin@example.com"}
        )
        user.is_staff = user.is_superuser = user.is_active = True
        user.set_password(password)
        user.save()
        password_file.write_text(password + "\n")
        password_file.chmod(0o600)
        return password

    def _load_demo_data(self) -> None:
        demo_list, _ = ContactList.objects.get_or_create(
            name="Demo: payment reminders", defaults={"description": "Fictional people with fictional numbers."}
        )
        for first_name, last_name, phone, language, amount_due in DEMO_CONTACTS:
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
        agent, _ = Agent.objects.update_or_create(
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
            },
        )
        campaign, _ = Campaign.objects.get_or_create(
            name="Spring payment reminders (demo)",
            defaults={
                "agent": agent,
                "days_of_week": [1, 2, 3, 4, 5, 6, 7],
                "window_start": datetime.time(8),
                "window_end": datetime.time(21),
                "max_attempts": 4,
                "max_attempts_per_24h": 4,
                "max_attempts_per_7d": 6,
                "retry_policy": DEMO_RETRY_POLICY,
            },
        )
        campaign.contact_lists.add(demo_list)
        self.stdout.write(
            f"Demo data: {demo_list.contacts.count()} contacts in '{demo_list}', agent '{agent}', "
            f"draft campaign '{campaign}'."
        )
