"""Text as stored: one line ending (\\n), whatever door it came through (a browser's form sends \\r\\n)."""


def normalise_newlines(text):
    """`text` with every CRLF and lone CR turned into LF."""
    if not text:
        return text
    return text.replace("\r\n", "\n").replace("\r", "\n")


class NormalisedTextModel:
    """Model mixin: the fields in `normalised_text_fields` are validated and saved with LF endings.

    Fingerprints, word diffs and signatures cover these texts; an invisible CR would
    make a section "changed" with nothing to highlight, and a fingerprint differ.
    """

    normalised_text_fields = ()

    def _normalise_text_fields(self):
        for name in self.normalised_text_fields:
            setattr(self, name, normalise_newlines(getattr(self, name)))

    def clean_fields(self, exclude=None):
        self._normalise_text_fields()
        return super().clean_fields(exclude=exclude)

    def save(self, *args, **kwargs):
        self._normalise_text_fields()
        return super().save(*args, **kwargs)
