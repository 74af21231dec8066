"""TwiML documents, built with the Twilio SDK's builder (escaping and attribute names are its job).

Twilio and the simulated carrier read the same TwiML, so both adapters and the webhooks use these.
"""

from twilio.twiml.voice_response import Connect, VoiceResponse


def connect_stream(url: str, parameters: dict[str, str]) -> str:
    """`<Connect><Stream url=…>` with `<Parameter>`s: a bidirectional media stream for the rest of the call.

    Parameters arrive in the stream's `start.customParameters` (Twilio's only way to pass data to it).
    """
    response = VoiceResponse()
    connect = Connect()
    stream = connect.stream(url=url)
    for name, value in parameters.items():
        stream.parameter(name=name, value=value)
    response.append(connect)
    return str(response)


def hang_up() -> str:
    response = VoiceResponse()
    response.hangup()
    return str(response)


def say_and_hang_up(text: str, *, language: str = "en-US") -> str:
    """Say `text` in the carrier's own voice, then hang up (a goodbye when our stream can no longer speak)."""
    response = VoiceResponse()
    response.say(text, language=language)
    response.hangup()
    return str(response)


def dial(number: str, *, caller_id: str = "") -> str:
    """Bridge the callee to a human at `number` (a transfer)."""
    response = VoiceResponse()
    response.dial(number, caller_id=caller_id or None)
    return str(response)
