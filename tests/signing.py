"""Signatures in tests that call the plans services directly (not through a face)."""

from core.signing import system_proof


def signer_proof(user):
    """A proof that `user` signs, as demo data and commands make (method "system"); tests
    of the faces sign with the password instead (tests/plans/test_signatures.py)."""
    return system_proof(user, "test fixture")
