"""The outcomes Callwright itself gives calls and targets, in the operator's language.

A call's `outcome` and a target's `last_outcome` are codes: those below come from Callwright (the retry
policy's outcomes, the conversation's tools, the call's ending); any other is a campaign's own disposition
code or an agent's recorded outcome, shown as written.
"""

from django.utils.translation import gettext_lazy as _

OUTCOME_WORDS = {
    "answered": _("Answered"),
    "voicemail": _("Voicemail"),
    "busy": _("Busy"),
    "no_answer": _("No answer"),
    "failed": _("Failed"),
    "completed": _("Completed"),
    "opted_out": _("Opted out"),
    "callback_requested": _("Callback requested"),
    "transferred": _("Transferred"),
    "no_response": _("No response"),
    "provider_failure": _("Provider failure"),
    "server_stopped": _("Server stopped"),
    "hung_up_by_supervisor": _("Hung up by a supervisor"),
    "left_voicemail_message": _("Voicemail message left"),
}


def outcome_words(code: str, *, humanize: bool = True) -> str:
    """`code` in words: Callwright's own outcomes translated; another code spaced and capitalised
    ("promised_to_pay" → "Promised to pay"), or as written when not `humanize`; "" for none."""
    if code in OUTCOME_WORDS:
        return str(OUTCOME_WORDS[code])
    return code.replace("_", " ").capitalize() if humanize else code
