"""Template tags about the voice providers in use (the admin's front page shows them)."""

from django import template

from voice.providers.selection import ActiveProvider, active_providers

register = template.Library()


@register.simple_tag(name="active_providers")
def active_providers_tag() -> list[ActiveProvider]:
    """The adapter behind each role (telephony, speech, language, voice) and whether it is simulated."""
    return active_providers()
