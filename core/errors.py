"""Domain errors: raised by services when a rule forbids a change, translated once per interface."""


class DomainError(Exception):
    """A business rule refused the change. `http_status` is what the API answers."""

    http_status = 400
    code = "invalid"

    def __init__(self, message="", *, field=None):
        super().__init__(message or self.__doc__)
        self.message = message or (self.__doc__ or "").strip()
        self.field = field


class TransitionNotAllowed(DomainError):
    """This change is not allowed from the current status."""

    http_status = 409
    code = "transition_not_allowed"


class Conflict(DomainError):
    """The request conflicts with the current state of the record."""

    http_status = 409
    code = "conflict"


class ImmutableRecord(DomainError):
    """This record can no longer be changed."""

    http_status = 409
    code = "immutable"


class SeparationOfDuties(DomainError):
    """You may not approve work you created, edited or submitted."""

    http_status = 403
    code = "separation_of_duties"


class FingerprintMismatch(DomainError):
    """The content fingerprint does not match the current text."""

    http_status = 409
    code = "fingerprint_mismatch"


class StaleEdit(DomainError):
    """The record changed since you read it."""

    http_status = 412
    code = "stale_edit"


class NotPermitted(DomainError):
    """You do not have permission to do this."""

    http_status = 403
    code = "permission_denied"


class InvalidInput(DomainError):
    """The input is not valid."""

    http_status = 400
    code = "invalid"


def add_to_form(form, exc):
    """Show a service's refusal (a DomainError or a model ValidationError) on the form that asked."""
    if isinstance(exc, DomainError):
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return
    for field, messages in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, messages)
