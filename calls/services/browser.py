"""Test calls from the browser: the operator talks to an agent through the microphone, no carrier involved.

The call is stored like any test call (a Call row, provider "browser", the agent, the contact whose
`{{variables}}` the agent uses), answered at once; its conversation is the same engine a phone call runs.
Nothing is dialled and nothing is suppressed: an opt-out said in a browser call is recorded, not applied.
"""

import uuid

from django.utils import timezone

from calls.hooks import call_script
from calls.models import Call, CallStatus
from calls.services.state import call_create, call_transition
from contacts.models import Contact

BROWSER_PROVIDER = "browser"


def browser_call_start(*, agent_id: int, contact_id: int) -> tuple[Call, str]:
    """A new answered browser call between the agent and the operator (standing in for `contact_id`), and the
    agent's language. LookupError, saying which, for an agent or a contact that does not exist (or was erased)."""
    script = call_script(agent_id)
    if script is None:
        raise LookupError(f"no agent {agent_id}")
    contact = Contact.objects.only("phone").filter(pk=contact_id, erased_at__isnull=True).first()
    if contact is None:
        raise LookupError(f"no contact {contact_id}")
    call = call_create(
        contact_id=contact.pk, to_phone=contact.phone or "", provider=BROWSER_PROVIDER, agent_id=agent_id
    )
    call_transition(call_id=call.pk, status=CallStatus.INITIATED, provider_call_id=f"BR{uuid.uuid4().hex}")
    call_transition(call_id=call.pk, status=CallStatus.IN_PROGRESS, fields={"answered_by": "human"})
    return Call.objects.get(pk=call.pk), script.language


def browser_call_finish(*, call_id: uuid.UUID | str) -> bool:
    """The operator hung up (or the agent did): the call is completed, with its duration; once."""
    call = Call.objects.only("answered_at").get(pk=call_id)
    seconds = int((timezone.now() - call.answered_at).total_seconds()) if call.answered_at else 0
    return call_transition(call_id=call_id, status=CallStatus.COMPLETED, fields={"duration_seconds": seconds})
