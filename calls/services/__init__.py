"""Writes to calls, by responsibility; import from here.

- `state`: create calls and move them forward (every status change a conditional UPDATE);
- `callbacks`: record each provider callback once and apply it monotonically;
- `analysis`: a call's post-call analysis, claimed once and stored (or failed, with the reason);
- `costs`: a finished call's usage gathered and priced (and the carrier's price fetched when missing);
- `recordings`: recordings copied to storage, deleted on erasure, and everything purged after RETENTION_DAYS;
- `placing`: hand calls to the carrier and hang them up;
- `reaping`: end every call the carrier no longer carries, and cancel the ones never handed to it.
"""

from calls.services.analysis import (
    STALE_CLAIM,
    call_analysis_claim,
    call_analysis_fail,
    call_analysis_record,
    call_analysis_skip,
    calls_analysis_reset,
)
from calls.services.callbacks import (
    CallbackOutcome,
    call_event_record,
    call_record_amd,
    call_record_media_start,
    call_record_media_stop,
    call_record_recording,
    call_record_status,
)
from calls.services.costs import call_cost_update
from calls.services.placing import (
    MACHINE_DETECTION_BY_POLICY,
    call_create_test,
    call_hang_up,
    call_place,
    calls_withdraw_queued,
    place_call_request,
)
from calls.services.reaping import call_reap, calls_cancel_left_queued, calls_reap
from calls.services.recordings import (
    call_recording_fetch,
    calls_purge_expired,
    recordings_delete,
    recordings_delete_on_commit,
    recordings_detach,
)
from calls.services.state import allowed_predecessors, call_create, call_create_batch, call_transition
from calls.services.streams import StreamStart, call_media_stream_start

__all__ = [
    "MACHINE_DETECTION_BY_POLICY",
    "STALE_CLAIM",
    "CallbackOutcome",
    "StreamStart",
    "allowed_predecessors",
    "call_analysis_claim",
    "call_analysis_fail",
    "call_analysis_record",
    "call_analysis_skip",
    "call_cost_update",
    "call_create",
    "call_create_batch",
    "call_create_test",
    "call_event_record",
    "call_hang_up",
    "call_media_stream_start",
    "call_place",
    "call_reap",
    "call_record_amd",
    "call_record_media_start",
    "call_record_media_stop",
    "call_record_recording",
    "call_record_status",
    "call_recording_fetch",
    "call_transition",
    "calls_analysis_reset",
    "calls_cancel_left_queued",
    "calls_purge_expired",
    "calls_reap",
    "calls_withdraw_queued",
    "place_call_request",
    "recordings_delete",
    "recordings_delete_on_commit",
    "recordings_detach",
]
