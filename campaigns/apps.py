import uuid

from django.apps import AppConfig


def enqueue_target_settlement(call_id: uuid.UUID) -> None:
    """calls' call-finished hook (already after commit): settle the target in a task of our own."""
    from campaigns.tasks import settle_target

    settle_target.delay(str(call_id))


class CampaignsConfig(AppConfig):
    name = "campaigns"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from calls.hooks import register_call_finished

        register_call_finished(enqueue_target_settlement)
