from django.apps import AppConfig


class CallsConfig(AppConfig):
    name = "calls"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from calls.personal_data import CALLS_PERSONAL_DATA
        from contacts.personal_data import register_personal_data_holder

        register_personal_data_holder(CALLS_PERSONAL_DATA)
