"""Permissions of live supervision (defined on `Call`'s Meta; the `supervisor` group holds them)."""

VIEW_LIVE_CALLS = "calls.view_live_calls"  # the live board and a call's live view
LISTEN_LIVE_CALLS = "calls.listen_live_calls"  # hear a call in the browser
STEER_LIVE_CALLS = "calls.steer_live_calls"  # whisper, take over, hang up, transfer, do not call, pause/resume

LIVE_PERMISSION_CODENAMES = ("view_live_calls", "listen_live_calls", "steer_live_calls")


def may(user: object, permission: str) -> bool:
    """Whether `user` is a logged-in staff member holding `permission` (sync: may read the database)."""
    return bool(
        user is not None
        and getattr(user, "is_authenticated", False)
        and getattr(user, "is_staff", False)
        and user.has_perm(permission)
    )
