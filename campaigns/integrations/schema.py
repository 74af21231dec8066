"""The OpenAPI schema's shared parts: every operation's error answers as problem details (RFC 9457).

A drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]): each operation lists
the 4xx it may answer, all of one `Problem` shape, so a generated client parses them and a schema checker
(schemathesis in the tests) holds every answer to the schema.
"""

from typing import Any

PROBLEM = {
    "type": "object",
    "description": "RFC 9457 problem details: what went wrong, for programs (`type`, `code`) and people (`detail`).",
    "properties": {
        "type": {"type": "string", "example": "urn:callwright:problem:invalid"},
        "title": {"type": "string", "example": "Invalid request"},
        "status": {"type": "integer", "example": 400},
        "detail": {"type": "string", "example": "Check phone."},
        "instance": {"type": "string", "example": "/api/v1/contacts/"},
        "code": {"type": "string", "example": "invalid"},
        "errors": {
            "description": "Validation errors by field (a list of messages, or nested by index for lists).",
            "oneOf": [{"type": "object", "additionalProperties": True}, {"type": "array", "items": {}}],
        },
        "rule": {"type": "string", "description": "A refused dial: the rule that refused it."},
        "opens": {"type": "string", "nullable": True, "description": "A refused dial: when the rule opens."},
        "retry_after": {"type": "integer", "description": "429: seconds to wait (also the Retry-After header)."},
    },
    "required": ["type", "title", "status", "detail", "code"],
}
ERRORS = {
    "400": "The request is invalid: see `errors`.",
    "401": "No credentials, or an unknown or revoked token.",
    "403": "The token's user lacks the permission, or the token is read-only.",
    "404": "No such object.",
    "429": "Too many requests (rate limit) or a locked-out address: retry after `Retry-After` seconds.",
}
POST_ERRORS = {
    "409": "The object's state does not allow it (a campaign's lifecycle, a refused dial).",
    "422": "The Idempotency-Key was used for another request.",
}
IDEMPOTENCY_HEADER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "maxLength": 255},
    "description": "Send the same key to repeat a POST safely: the first answer comes back and nothing is done "
    "twice. Keys are per token and kept IDEMPOTENCY_KEY_TTL_HOURS.",
}


def add_problem_responses(result: dict[str, Any], generator: object, request: object, public: bool) -> dict[str, Any]:
    result.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM
    reference = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path in result.get("paths", {}).values():
        for method, operation in path.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            errors = {**ERRORS, **(POST_ERRORS if method == "post" else {})}
            for code, description in errors.items():
                operation["responses"].setdefault(code, {"description": description, "content": reference})
            if method == "post":
                operation.setdefault("parameters", []).append(IDEMPOTENCY_HEADER)
    return result
