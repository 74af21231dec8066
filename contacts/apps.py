from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ContactsConfig(AppConfig):
    name = "contacts"
    verbose_name = _("Contacts")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from contacts import tasks  # noqa: F401 - registers the tasks the import enqueues by name
        from contacts.operator_language import remember_at_login

        user_logged_in.connect(remember_at_login, dispatch_uid="contacts.operator_language")
        from django.db.models.signals import pre_delete

        from contacts.models import ContactList
        from contacts.object_grants import forget_grants

        pre_delete.connect(forget_grants, sender=ContactList, dispatch_uid="contacts.contactlist.grants")
