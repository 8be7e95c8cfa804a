"""One error hierarchy for the whole ledger.

Adapters (SQLite, Kafka, HTTP, CLI) translate their own failures into these; the API maps
them to HTTP statuses and problem types in one table (``api/errors.py``). Messages never
contain personal data (names, ID numbers).
"""

from __future__ import annotations


class LedgerError(Exception):
    """Root of every error the ledger raises on purpose."""

    code = "ledger-error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFoundError(LedgerError):
    """The named retiree, community or record does not exist."""

    code = "not-found"


class ConflictError(LedgerError):
    """The write lost a race or repeats something unique; nothing was written."""

    code = "conflict"


class VersionConflictError(ConflictError):
    """The stream is not at the version the caller expected."""

    code = "version-conflict"


class RuleViolationError(LedgerError):
    """A domain rule (DESIGN.md section 2) forbids the command; nothing was written."""

    code = "rule-violation"

    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(detail)
        self.rule = rule


class InvalidInputError(LedgerError):
    """The input is malformed (types, ranges, unknown event types)."""

    code = "invalid-input"


class AuthenticationError(LedgerError):
    """No valid bearer token: missing, malformed, unknown, wrong or revoked. Never echoes the token."""

    code = "unauthorized"


class AccessDeniedError(LedgerError):
    """Authenticated, but the role or scope does not allow this."""

    code = "forbidden"


class UnavailableError(LedgerError):
    """The event log cannot be reached now; nothing was acknowledged."""

    code = "unavailable"


class NotTheWriterError(UnavailableError):
    """This process serves reads only (``LEDGER_WRITER``): appends go to the writer it names; nothing was
    appended."""

    code = "not-the-writer"

    def __init__(self, writer: str) -> None:
        super().__init__(f"this API process serves reads only: send appends to the writer at {writer}")
        self.writer = writer


class IntegrityViolationError(LedgerError):
    """Stored history does not match its hash chain or checkpoints."""

    code = "integrity-violation"


class IdempotencyKeyReusedError(InvalidInputError):
    """An ``Idempotency-Key`` (or event id) already answered a different request; nothing was appended."""

    code = "idempotency-key-reused"


class ProjectionError(LedgerError):
    """A view could not apply an event; the runner stopped before it (nothing was skipped)."""

    code = "projection-failed"

    def __init__(self, detail: str, *, view: str = "", seq: int = 0) -> None:
        super().__init__(detail)
        self.view = view
        self.seq = seq
