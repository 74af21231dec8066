import uuid

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def enqueue_target_settlement(call_id: uuid.UUID) -> None:
    """calls' call-finished hook (already after commit): settle the target in a task of our own.

    Calls that end together are settled by one task (campaigns/settlement.py).
    """
    from campaigns.settlement import settlement_batcher

    settlement_batcher().add(call_id)


def enqueue_call_analysis(call_id: uuid.UUID) -> None:
    """calls' call-finished hook (already after commit): queue the call's post-call analysis and cost."""
    from campaigns.settlement import analysis_batcher

    analysis_batcher().add(call_id)


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = _("Campaigns")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from calls.hooks import (
            register_call_finished,
            register_call_script,
            register_callback_requested,
            register_test_call_gate,
        )
        from campaigns import tasks  # noqa: F401 - registers the tasks the services enqueue by name
        from campaigns.gate import refusals_for_test_calls
        from campaigns.metrics import ALERT_METRICS, campaign_metrics
        from campaigns.selectors import agent_call_script
        from campaigns.services import target_schedule_callback
        from monitoring.metrics import register_alert_metric, register_scrape_collector

        register_call_finished(enqueue_target_settlement)
        register_call_finished(enqueue_call_analysis)
        register_call_script(agent_call_script)
        register_callback_requested(target_schedule_callback)
        register_test_call_gate(refusals_for_test_calls)
        register_scrape_collector(campaign_metrics)
        for key, label, measure in ALERT_METRICS:
            register_alert_metric(key, label, measure)

        from calls.hooks import register_call_event
        from campaigns.integrations.events import on_call_event, on_contact_event
        from contacts.hooks import register_contact_event

        register_call_event(on_call_event)  # outbound webhooks: call.started, call.ended, call.analyzed
        register_contact_event(on_contact_event)  # contact.opted_out, import.finished

        from django.db.models.signals import pre_delete

        from campaigns.models import Campaign
        from contacts.object_grants import forget_grants

        pre_delete.connect(forget_grants, sender=Campaign, dispatch_uid="campaigns.campaign.grants")
