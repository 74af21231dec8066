"""What each webhook event says, and the hooks that raise them (registered in CampaignsConfig.ready).

Every delivery's body is an envelope {"id", "type", "created_at", "data"}; `data` per event:

- call.started / call.ended / call.analyzed: the call as GET /api/v1/calls/{id}/ lists it (status, times,
  outcome, summary, extracted fields, latency), without its events and turns;
- campaign.completed: the campaign as the API shows it, with its targets counted by state;
- contact.opted_out: the number (E.164), the contacts that have it, when and why;
- import.finished: the import job's progress, as GET /api/v1/imports/{id}/ shows it.
"""

import uuid

from django.db.models import Count

from campaigns.integrations.models import WebhookEvent
from campaigns.integrations.webhooks import webhook_event_raise, webhook_subscriptions_for

CALL_EVENTS = {
    "started": WebhookEvent.CALL_STARTED,
    "ended": WebhookEvent.CALL_ENDED,
    "analyzed": WebhookEvent.CALL_ANALYZED,
}


def on_call_event(call_id: uuid.UUID, event: str) -> None:
    """calls' call-event hook (after commit)."""
    from calls.apis import CallSerializer
    from calls.models import Call

    # Every status change of every call comes here: with nobody subscribed, the call is not even read.
    subscriptions = webhook_subscriptions_for(CALL_EVENTS[event])
    if not subscriptions:
        return
    call = Call.objects.filter(pk=call_id).first()
    if call is not None:
        data = dict(CallSerializer(call).data)
        webhook_event_raise(event=CALL_EVENTS[event], key=str(call_id), data=data, subscriptions=subscriptions)


def on_contact_event(event: str, object_id: int) -> None:
    """contacts' contact-event hook (after commit)."""
    from contacts.models import Contact, ContactImportJob, Suppression
    from contacts.selectors import import_job_progress

    if event == "opted_out":
        suppression = Suppression.objects.filter(pk=object_id).first()
        if suppression is None:
            return
        data = {
            "phone": suppression.phone,
            "contacts": list(Contact.objects.filter(phone=suppression.phone).values_list("pk", flat=True)),
            "reason": suppression.reason,
            "source": suppression.source,
            "at": suppression.created_at,
        }
        webhook_event_raise(event=WebhookEvent.CONTACT_OPTED_OUT, key=str(object_id), data=data)
    elif event == "import_finished":
        job = ContactImportJob.objects.filter(pk=object_id).first()
        if job is not None:
            webhook_event_raise(
                event=WebhookEvent.IMPORT_FINISHED, key=str(object_id), data=import_job_progress(job=job)
            )


def raise_campaign_completed(campaign_id: int) -> None:
    """After the campaign's completion commits: tell the subscribers, with its targets counted by state."""
    from campaigns.models import Campaign, CampaignTarget
    from campaigns.representation import CampaignOutputSerializer

    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None:
        return
    data = dict(CampaignOutputSerializer(campaign).data)
    data["targets_by_state"] = dict(
        CampaignTarget.objects.filter(campaign_id=campaign_id).values_list("state").annotate(n=Count("id"))
    )
    webhook_event_raise(event=WebhookEvent.CAMPAIGN_COMPLETED, key=str(campaign_id), data=data)
