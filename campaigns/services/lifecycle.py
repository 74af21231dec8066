"""Campaign lifecycle: draft → scheduled → running ⇄ paused → completed | cancelled.

Every move is one conditional UPDATE from the states it is allowed from; a service returns False
(or raises `CampaignError` with the reason, for operator actions) when the campaign was not in one.
"""

import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from calls.services import calls_withdraw_queued
from campaigns.exceptions import CampaignError
from campaigns.integrations.events import raise_campaign_completed
from campaigns.models import Campaign, CampaignTarget
from campaigns.services.targets import campaign_sync_targets

Status = Campaign.Status
OPEN_STATES = (Status.DRAFT, Status.SCHEDULED, Status.RUNNING, Status.PAUSED)


# The operator actions and the states a stop leaves, in words for the messages above (translated when shown).
ACTION_WORDS = {
    "schedule": _("schedule"),
    "launch": _("launch"),
    "pause": _("pause"),
    "resume": _("resume"),
    "cancel": _("cancel"),
}
STATUS_WORDS = {"paused": _("paused"), "cancelled": _("cancelled"), "completed": _("completed")}


def _move(campaign_id: int, *, allowed_from: tuple[str, ...], to: str, **fields: object) -> bool:
    return Campaign.objects.filter(pk=campaign_id, status__in=allowed_from).update(status=to, **fields) == 1


def _refuse(campaign_id: int, action: str) -> CampaignError:
    status = Campaign.objects.filter(pk=campaign_id).values_list("status", flat=True).first()
    if status is None:
        return CampaignError(gettext("Campaign %(id)s does not exist.") % {"id": campaign_id})
    return CampaignError(
        gettext("Cannot %(action)s a campaign that is %(status)s.")
        % {"action": ACTION_WORDS.get(action, action), "status": str(Status(status).label).lower()}
    )


def _check_ready_to_dial(campaign: Campaign) -> None:
    if not campaign.contact_lists.exists():
        raise CampaignError(
            gettext("“%(campaign)s” has no contact lists: add at least one before launching it.")
            % {"campaign": campaign}
        )


def campaign_schedule(*, campaign_id: int, now: datetime.datetime | None = None) -> None:
    """Draft → scheduled: the dispatcher starts it at `starts_at`."""
    now = now or timezone.now()
    campaign = Campaign.objects.get(pk=campaign_id)
    if not campaign.starts_at or campaign.starts_at <= now:
        raise CampaignError(
            gettext("Give “%(campaign)s” a start time in the future to schedule it, or launch it now.")
            % {"campaign": campaign}
        )
    _check_ready_to_dial(campaign)
    if not _move(campaign_id, allowed_from=(Status.DRAFT,), to=Status.SCHEDULED):
        raise _refuse(campaign_id, "schedule")


@transaction.atomic
def campaign_launch(*, campaign_id: int, now: datetime.datetime | None = None) -> int:
    """Draft or scheduled → running, now; creates its targets. Returns how many targets were added."""
    now = now or timezone.now()
    campaign = Campaign.objects.get(pk=campaign_id)
    _check_ready_to_dial(campaign)
    if campaign.ends_at and campaign.ends_at <= now:
        raise CampaignError(
            f"“{campaign}” ended at {campaign.ends_at:%Y-%m-%d %H:%M %Z}; move its end time to launch it."
        )
    if not _move(campaign_id, allowed_from=(Status.DRAFT, Status.SCHEDULED), to=Status.RUNNING, activated_at=now):
        raise _refuse(campaign_id, "launch")
    return campaign_sync_targets(campaign_id=campaign_id, now=now)


@transaction.atomic
def campaign_pause(*, campaign_id: int) -> None:
    """Running → paused: no new dial starts and queued ones are withdrawn; calls in progress finish."""
    if not _move(campaign_id, allowed_from=(Status.RUNNING,), to=Status.PAUSED):
        raise _refuse(campaign_id, "pause")
    _withdraw_queued_calls(campaign_id, "paused")


def campaign_resume(*, campaign_id: int) -> None:
    if not _move(campaign_id, allowed_from=(Status.PAUSED,), to=Status.RUNNING):
        raise _refuse(campaign_id, "resume")


@transaction.atomic
def campaign_cancel(*, campaign_id: int, now: datetime.datetime | None = None) -> None:
    """Any open state → cancelled. Pending targets close as skipped, queued calls are withdrawn; calls in
    progress finish."""
    now = now or timezone.now()
    if not _move(campaign_id, allowed_from=OPEN_STATES, to=Status.CANCELLED, finished_at=now):
        raise _refuse(campaign_id, "cancel")
    _close_pending(campaign_id, gettext("Campaign cancelled"))
    _withdraw_queued_calls(campaign_id, "cancelled")


@transaction.atomic
def campaign_complete(*, campaign_id: int, reason: str, now: datetime.datetime | None = None) -> bool:
    """Running or paused → completed (the dispatcher's call, not an operator's); idempotent."""
    now = now or timezone.now()
    if not _move(campaign_id, allowed_from=(Status.RUNNING, Status.PAUSED), to=Status.COMPLETED, finished_at=now):
        return False
    _close_pending(campaign_id, reason)
    _withdraw_queued_calls(campaign_id, "completed")
    transaction.on_commit(lambda: raise_campaign_completed(campaign_id))  # outbound webhook
    return True


def _withdraw_queued_calls(campaign_id: int, status: str) -> None:
    """Calls queued but not yet placed are withdrawn, so stopping a campaign takes effect at once.

    Their targets go back to pending with the attempt given back (`target_settle`), after commit.
    """
    reason = gettext("Withdrawn before it was placed: the campaign is %(status)s") % {"status": STATUS_WORDS[status]}
    calls_withdraw_queued(campaign_id=campaign_id, reason=reason)


def _close_pending(campaign_id: int, reason: str) -> None:
    CampaignTarget.objects.filter(campaign_id=campaign_id, state=CampaignTarget.State.PENDING).update(
        state=CampaignTarget.State.SKIPPED, state_reason=reason, next_attempt_at=None
    )
