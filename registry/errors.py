"""The error tree of the registry.

Services raise `RegistryError` subclasses with a message a person can act on; each class
carries what the answer to a client needs (status, slug, title), so the service says
what went wrong and not how HTTP says it. `registry.edge.problems` is where they become
HTTP, for the API and the pages alike; nothing here knows of requests.
"""

from typing import Any


class RegistryError(Exception):
    """Base of every error the registry reports to its users."""

    status = 400
    slug = "bad-request"
    title = "Bad request"

    def __init__(self, detail: str, *, errors: dict[str, Any] | None = None):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors


class InvalidInput(RegistryError):
    status, slug, title = 422, "invalid-input", "Invalid input"


class MalformedCode(RegistryError):
    status, slug, title = 400, "malformed-code", "Not a certificate code"


class MistypedCode(RegistryError):
    status, slug, title = 400, "mistyped-code", "Mistyped certificate code"


class OutOfRange(RegistryError):
    status, slug, title = 400, "out-of-range", "Outside the log"


class Unauthorized(RegistryError):
    status, slug, title = 401, "unauthorized", "Authentication required"
    #: RFC 6750 section 3 challenge sent in WWW-Authenticate.
    challenge = 'Bearer realm="registry"'


class InvalidToken(Unauthorized):
    slug, title = "invalid-token", "Invalid token"
    challenge = 'Bearer realm="registry", error="invalid_token"'


class Forbidden(RegistryError):
    status, slug, title = 403, "forbidden", "Not allowed"


class NotFound(RegistryError):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(RegistryError):
    status, slug, title = 409, "conflict", "Conflict with the current state"


class PayloadTooLarge(RegistryError):
    status, slug, title = 413, "payload-too-large", "Payload too large"


class UnsupportedMediaType(RegistryError):
    status, slug, title = 415, "unsupported-media-type", "Unsupported media type"


class Unavailable(RegistryError):
    status, slug, title = 503, "unavailable", "Temporarily unavailable"
