"""Domain errors: raised by services when a rule forbids a change, translated once per interface."""


class DomainError(Exception):
    """A business rule refused the change. `http_status` is what the API answers."""

    http_status = 400
    code = "invalid"

    def __init_subclass__(cls, *, http_status=None, code=None, **kwargs):
        """Let each error declare its API answer on its class line."""
        super().__init_subclass__(**kwargs)
        if http_status is not None:
            cls.http_status = http_status
        if code is not None:
            cls.code = code

    def __init__(self, message="", *, field=None):
        super().__init__(message or self.__doc__)
        self.message = message or (self.__doc__ or "").strip()
        self.field = field


class TransitionNotAllowed(DomainError, http_status=409, code="transition_not_allowed"):
    """This change is not allowed from the current status."""


class Conflict(DomainError, http_status=409, code="conflict"):
    """The request conflicts with the current state of the record."""


class ImmutableRecord(DomainError, http_status=409, code="immutable"):
    """This record can no longer be changed."""


class SeparationOfDuties(DomainError, http_status=403, code="separation_of_duties"):
    """You may not approve work you created, edited or submitted."""


class FingerprintMismatch(DomainError, http_status=409, code="fingerprint_mismatch"):
    """The content fingerprint does not match the current text."""


class StaleEdit(DomainError, http_status=412, code="stale_edit"):
    """The record changed since you read it."""


class NotPermitted(DomainError, http_status=403, code="permission_denied"):
    """You do not have permission to do this."""


class InvalidInput(DomainError, http_status=400, code="invalid"):
    """The input is not valid."""


def add_to_form(form, exc):
    """Show a service's refusal (a DomainError or a model ValidationError) on the form that asked."""
    if isinstance(exc, DomainError):
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return
    for field, messages in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, messages)
