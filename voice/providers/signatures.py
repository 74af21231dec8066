"""Checking `X-Twilio-Signature` with the Twilio SDK's RequestValidator, one HMAC in the common case.

`RequestValidator.validate` always computes two signatures — the URL with and without its port,
"since signature generation on Twilio's back end is inconsistent" — and accepts either. The URL as
given is always one of those two, so when its own signature matches, `validate` would have said yes;
only when it does not is `validate` asked, with every variant it knows. Status callbacks are the
busiest request the web process serves, and the second HMAC (with its sorting of the parameters) is
work it does not need.
"""

import hmac

from twilio.request_validator import RequestValidator


def signature_valid(validator: RequestValidator, url: str, params: object, signature: str) -> bool:
    """Whether `signature` signs `url` + `params` (a form's QueryDict or dict), as `validator.validate` decides."""
    if not signature:
        return False
    # A JSON body (`bodySHA256` in the URL, the body as a str) is validate()'s own case.
    if not isinstance(params, str) and hmac.compare_digest(validator.compute_signature(url, params), signature):
        return True
    return validator.validate(url, params, signature)
