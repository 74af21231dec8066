from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CallsConfig(AppConfig):
    name = "calls"
    verbose_name = _("Calls")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from calls import tasks  # noqa: F401 - registers the tasks the services enqueue by name
        from calls.personal_data import CALLS_PERSONAL_DATA
        from contacts.personal_data import register_personal_data_holder

        register_personal_data_holder(CALLS_PERSONAL_DATA)
