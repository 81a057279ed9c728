"""The emitter's one error type: an HTTP status and a one-line message.

The engine raises it for every invalid call *before* it stores anything, so a caller
(the HTTP server, the CLI, a test) can report it and rely on the state being unchanged.
"""

from __future__ import annotations

BAD_REQUEST = 400  # not JSON / not an object
UNAUTHORIZED = 401
NOT_FOUND = 404  # unknown session
CONFLICT = 409  # ended session, budget exhausted, idempotency key reused with another body
PAYLOAD_TOO_LARGE = 413  # body over the limit, batch over 100 atoms
UNPROCESSABLE = 422  # well-formed JSON that breaks a rule (bad atom type, malformed number)


class EmitError(Exception):
    """An invalid call. ``str(error)`` is the complete one-line message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def as_json(self) -> dict[str, dict[str, object]]:
        return {"error": {"message": self.message, "status": self.status}}
