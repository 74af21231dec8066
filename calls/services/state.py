"""A call's life as conditional UPDATEs: it is created queued and only ever moves forward."""

import datetime

from django.db import connections, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from calls.hooks import notify_call_finished_on_commit
from calls.models import STATUS_RANK, TERMINAL_STATUSES, Call, CallStatus
from monitoring.metrics import CALL_STATUS_TRANSITIONS


def allowed_predecessors(status: CallStatus) -> list[str]:
    """Open statuses a call may move to `status` from: those strictly earlier in the progression.

    Terminal statuses never move, and a late `ringing` after `in_progress` is ignored, so callbacks
    that arrive out of order cannot move a call backwards.
    """
    return [
        previous.value
        for previous in CallStatus
        if previous not in TERMINAL_STATUSES and STATUS_RANK[previous] < STATUS_RANK[status]
    ]


def call_transition(
    *,
    call_id: object,
    status: CallStatus,
    at: datetime.datetime | None = None,
    fields: dict[str, object] | None = None,
    provider_call_id: str = "",
) -> bool:
    """Move call `call_id` to `status` if that is forward; return whether it moved.

    Sets the timestamp the status implies (started, answered, ended) and any extra `fields`
    (duration, answered_by, price…: plain values, not expressions) in the same UPDATE; nothing is
    written when the call is already at or past `status`. With `provider_call_id`, only a call with
    that id (or none yet, which then gets it) moves: a callback for another CallSid moves nothing. A
    stage's time is never earlier than the stages before it: carriers stamp callbacks to the whole
    second, so "answered" may read a few hundred ms before our own "started".

    The UPDATE is SQL built once per shape (see `_transition_statement`), not compiled by the ORM
    on each call: this runs for every status callback, and compiling it (with the stage-time clamps)
    was the largest single cost of the webhook's own work in cProfile (see `call_event_record`).
    """
    status = CallStatus(status)
    using = router.db_for_write(Call)
    connection = connections[using]
    query = transition_query(
        connection, call_id=call_id, status=status, at=at, fields=fields, provider_call_id=provider_call_id
    )
    if query is None:
        return False  # nothing moves to the first status (the ORM would not query either)
    with transaction.mark_for_rollback_on_error(using), connection.cursor() as cursor:
        cursor.execute(*query)
        moved = cursor.rowcount == 1
    if moved:
        transition_applied(call_id=call_id, status=status)
    return moved


def transition_query(
    connection: BaseDatabaseWrapper,
    *,
    call_id: object,
    status: CallStatus,
    at: datetime.datetime | None = None,
    fields: dict[str, object] | None = None,
    provider_call_id: str = "",
) -> tuple[str, list[object]] | None:
    """`call_transition`'s UPDATE and its parameters, to run on `connection`; None if nothing can move.

    For a caller that sends it together with other statements; after it moved the call (one row
    updated) that caller must call `transition_applied`.
    """
    status = CallStatus(status)
    at = at or timezone.now()
    fields = fields or {}
    predecessors = _PREDECESSORS[status]
    if not predecessors:
        return None
    sql, stage, stage_times = _transition_statement(connection, status, tuple(fields), bool(provider_call_id))
    meta = Call._meta
    params: list[object] = [status.value]
    params += [meta.get_field(name).get_db_prep_save(value, connection) for name, value in fields.items()]
    if stage_times:
        params += [meta.get_field(stage).get_db_prep_save(at, connection)] * stage_times
    if provider_call_id:
        params.append(provider_call_id)
    params.append(meta.pk.get_db_prep_value(call_id, connection))
    params += predecessors
    if provider_call_id:
        params += ["", provider_call_id]
    return sql, params


def transition_applied(*, call_id: object, status: CallStatus) -> None:
    """What follows a move: the metric, and for a terminal status the call-finished hooks after commit."""
    CALL_STATUS_TRANSITIONS.labels(status=status.value).inc()
    if status in TERMINAL_STATUSES:
        notify_call_finished_on_commit(call_id)


# The stage time a status sets, and the earlier stages it may not precede.
_STAGES = {
    CallStatus.INITIATED: ("started_at", ()),
    CallStatus.IN_PROGRESS: ("answered_at", ("started_at",)),
    **dict.fromkeys(TERMINAL_STATUSES, ("ended_at", ("started_at", "answered_at"))),
}
_PREDECESSORS = {status: allowed_predecessors(status) for status in CallStatus}
_transitions: dict[tuple[str, CallStatus, tuple[str, ...], bool], tuple[str, str, int]] = {}


def _transition_statement(
    connection: BaseDatabaseWrapper, status: CallStatus, field_names: tuple[str, ...], with_sid: bool
) -> tuple[str, str, int]:
    """The conditional UPDATE for one shape of transition, its stage field and how often it takes its time.

    It is what `Call.objects.filter(pk=…, status__in=allowed_predecessors(status)
    [, provider_call_id__in=["", sid]]).update(status=…, **fields, <stage>_at=…[, provider_call_id=sid])`
    compiles to, the stage time being `GREATEST(at, COALESCE(<earlier stage>, at), …)` (MAX on SQLite).
    Parameters, in order: status, the fields' values, the stage time (repeated), [the CallSid], the
    pk, the predecessors, ["" and the CallSid]. Table and column names come from the model's `_meta`.
    Cached by vendor, not connection: under ASGI every request has a connection object of its own.
    """
    key = (connection.vendor, status, field_names, with_sid)
    statement = _transitions.get(key)
    if statement is not None:
        return statement
    meta = Call._meta
    quote = connection.ops.quote_name

    def column(name: str) -> str:
        return quote(meta.get_field(name).column)

    assignments = [f"{column('status')} = %s", *(f"{column(name)} = %s" for name in field_names)]
    stage, stage_times = "", 0
    if status in _STAGES and _STAGES[status][0] not in field_names:
        stage, earlier = _STAGES[status]
        if earlier:
            greatest = "MAX" if connection.vendor == "sqlite" else "GREATEST"
            bounds = ", ".join(f"COALESCE({column(name)}, %s)" for name in earlier)
            assignments.append(f"{column(stage)} = {greatest}(%s, {bounds})")
        else:
            assignments.append(f"{column(stage)} = %s")
        stage_times = 1 + len(earlier)
    conditions = [f"{quote(meta.pk.column)} = %s"]
    conditions.append(f"{column('status')} IN ({', '.join(['%s'] * len(_PREDECESSORS[status]))})")
    if with_sid:
        assignments.append(f"{column('provider_call_id')} = %s")
        conditions.append(f"{column('provider_call_id')} IN (%s, %s)")
    # Only quoted names from `_meta` and placeholders: every value is a parameter.
    sql = f"UPDATE {quote(meta.db_table)} SET {', '.join(assignments)} WHERE {' AND '.join(conditions)}"  # noqa: S608
    statement = _transitions[key] = (sql, stage, stage_times)
    return statement


def call_create_batch(*, calls: list[dict[str, object]]) -> list[Call]:
    """Create many queued Calls in one INSERT; each dict holds `call_create`'s keyword arguments."""
    return Call.objects.bulk_create([Call(**fields) for fields in calls])


def call_create(
    *,
    contact_id: int,
    to_phone: str,
    provider: str,
    campaign_id: int | None = None,
    agent_id: int | None = None,
    target_id: int | None = None,
    from_phone: str = "",
    ring_timeout_seconds: int | None = None,
    max_duration_seconds: int | None = None,
    answering_machine_policy: str | None = None,
    record: bool = False,
) -> Call:
    """Create a queued Call row. It exists before any provider request, so a call is never placed untracked.

    How it is placed (ring timeout, duration, answering machines, recording) is the caller's to say;
    what is not given takes `Call`'s defaults, those of a call outside any campaign.
    """
    placing = {
        "ring_timeout_seconds": ring_timeout_seconds,
        "max_duration_seconds": max_duration_seconds,
        "answering_machine_policy": answering_machine_policy,
    }
    return Call.objects.create(
        contact_id=contact_id,
        to_phone=to_phone,
        from_phone=from_phone,
        provider=provider,
        campaign_id=campaign_id,
        agent_id=agent_id,
        target_id=target_id,
        record=record,
        **{name: value for name, value in placing.items() if value is not None},
    )
