"""`manage.py load_demo`: an admin login and a small demo (contacts, a list, an agent, a draft campaign).

Safe to run again: it updates what it created before and adds nothing twice.
"""

import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from campaigns.models import Agent, Campaign
from contacts.models import ContactList
from contacts.services import contact_upsert

DEMO_CONTACTS = [
    # Fictional numbers reserved for drama/testing in their countries.
    {"first_name": "Ada", "last_name": "Byron", "phone": "+1 202 555 0143", "custom_fields": {"amount_due": "120.00"}},
    {"first_name": "Grace", "last_name": "Hopper", "phone": "(312) 555-0178", "custom_fields": {"amount_due": "89.50"}},
    {
        "first_name": "Alan",
        "last_name": "Turing",
        "phone": "+44 20 7946 0958",
        "language": "en-GB",
        "custom_fields": {"amount_due": "42.00"},
    },
    {
        "first_name": "Marie",
        "last_name": "Curie",
        "phone": "+33 1 99 00 12 34",
        "language": "fr-FR",
        "custom_fields": {"amount_due": "15.00"},
    },
    {
        "first_name": "Lise",
        "last_name": "Meitner",
        "phone": "+61 491 570 156",
        "custom_fields": {"amount_due": "230.00"},
    },
]
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
        for row in DEMO_CONTACTS:
            contact_upsert(**row, lists=[demo_list])
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
        campaign, _ = Campaign.objects.get_or_create(name="Spring payment reminders (demo)", defaults={"agent": agent})
        campaign.contact_lists.add(demo_list)
        self.stdout.write(
            f"Demo data: {demo_list.contacts.count()} contacts in '{demo_list}', agent '{agent}', "
            f"draft campaign '{campaign}'."
        )
