"""Writes to campaigns: lifecycle, targets, dispatch and settlement (one topic module each)."""

from campaigns.services.dispatch import DispatchResult, campaign_dispatch, campaigns_dispatch_due
from campaigns.services.lifecycle import (
    campaign_cancel,
    campaign_complete,
    campaign_launch,
    campaign_pause,
    campaign_resume,
    campaign_schedule,
)
from campaigns.services.targets import (
    campaign_sync_targets,
    target_schedule_callback,
    target_settle,
    targets_settle_stragglers,
)

__all__ = [
    "DispatchResult",
    "campaign_cancel",
    "campaign_complete",
    "campaign_dispatch",
    "campaign_launch",
    "campaign_pause",
    "campaign_resume",
    "campaign_schedule",
    "campaign_sync_targets",
    "campaigns_dispatch_due",
    "target_schedule_callback",
    "target_settle",
    "targets_settle_stragglers",
]
