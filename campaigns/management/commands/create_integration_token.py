from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError

from campaigns.integrations.models import IntegrationToken
from campaigns.integrations.tokens import integration_token_create


class Command(BaseCommand):
    help = (
        "Issue an API token for an integration and print its key (shown once; only its hash is stored). "
        "The token acts as --user, created in the 'integration' group when it does not exist (in no group with "
        "--objects-only: it then acts only through the campaigns and contact lists granted to it in the admin)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--name", required=True, help="which system uses it, e.g. 'Billing CRM'")
        parser.add_argument("--user", default="integration", help="the user it acts as (default: integration)")
        parser.add_argument("--scope", choices=IntegrationToken.Scope.values, default=IntegrationToken.Scope.READ_WRITE)
        parser.add_argument(
            "--objects-only",
            action="store_true",
            help="a new --user joins no group: grant it campaigns or contact lists (Object permissions, in the admin)",
        )

    def handle(self, *args: object, name: str, user: str, scope: str, objects_only: bool, **options: object) -> None:
        account, created = get_user_model().objects.get_or_create(username=user)
        if created:
            account.set_unusable_password()
            account.save()
        if created and not objects_only:
            group = Group.objects.filter(name="integration").first()
            if group is None:
                raise CommandError("The 'integration' group is missing: run `python manage.py migrate` first.")
            account.groups.add(group)
        _, key = integration_token_create(name=name, user=account, scope=scope)
        self.stdout.write(key)
