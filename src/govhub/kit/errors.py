"""Domain errors: a stable code, an HTTP status, and a message translated when shown."""

from __future__ import annotations

from typing import Any

from govhub.kit.i18n import N_, gettext


class AppError(Exception):
    """Base of every error a user may see; subclasses set status and code."""

    status_code = 400
    code = "bad_request"
    message = N_("The request could not be processed.")
    # True when what the service recorded before failing must still be committed: a failed
    # sign-in is refused, yet its counter and audit event have to persist.
    keeps_changes = False
    # Extra response headers (e.g. X-Road-Id on a refused exchange call).
    headers: dict[str, str] = {}

    def __init__(
        self, message: str | None = None, *, code: str | None = None, **params: Any
    ) -> None:
        if message is not None:
            self.message = message
        if code is not None:
            self.code = code
        self.params = params
        super().__init__(self.message % params if params else self.message)

    def translated(self) -> str:
        """The message in the current request's language."""
        return gettext(self.message, **self.params)

    def to_dict(self) -> dict[str, Any]:
        """The JSON error body: {"error": {"code": ..., "message": ...}}."""
        return {"error": {"code": self.code, "message": self.translated()}}


class ValidationFailed(AppError):
    """Input that breaks a rule (check digit, password policy, duplicate)."""

    status_code = 422
    code = "validation_failed"
    message = N_("Some of the information is not valid.")

    def __init__(self, message: str | None = None, *, field: str | None = None, **kw: Any):
        super().__init__(message, **kw)
        self.field = field

    def to_dict(self) -> dict[str, Any]:
        """Add the offending field so forms can place the message next to it."""
        body = super().to_dict()
        if self.field:
            body["error"]["field"] = self.field
        return body


class NotAuthenticated(AppError):
    """The caller must sign in first."""

    status_code = 401
    code = "not_authenticated"
    message = N_("Please sign in to continue.")


class Forbidden(AppError):
    """The caller is signed in but may not do this."""

    status_code = 403
    code = "forbidden"
    message = N_("You do not have permission to do this.")


class NotFound(AppError):
    """The thing does not exist, or the caller may not know that it exists."""

    status_code = 404
    code = "not_found"
    message = N_("The page or item you asked for was not found.")


class Conflict(AppError):
    """The request conflicts with the current state (duplicate, already used)."""

    status_code = 409
    code = "conflict"
    message = N_("This conflicts with information already recorded.")


class TooManyRequests(AppError):
    """Rate limit or lockout."""

    status_code = 429
    code = "too_many_requests"
    message = N_("Too many attempts. Please wait and try again.")


class CsrfFailed(AppError):
    """The form did not carry a valid anti-forgery token."""

    status_code = 403
    code = "csrf_failed"
    message = N_(
        "This form has expired or did not come from this site. Please go back, reload the page and try again."
    )
