"""Factories for plans: plans built through the services, so they are always in a valid state."""

from django.contrib.auth.models import Group

from core.roles import STAFF
from plans import services
from plans.models import PlanVersion
from tests import factories
from tests.signing import signer_proof


def make_plan(author=None, code="IRP", audience=(STAFF,), **kwargs):
    """A plan with its first draft (standard template), authored by a coordinator."""
    author = author or factories.coordinator(username=f"author-{code.lower()}")
    groups = [Group.objects.get_or_create(name=name)[0] for name in audience]
    return services.plan_create(
        actor=author,
        code=code,
        title=kwargs.pop("title", f"{code} response plan"),
        audience=groups,
        **kwargs,
    )


def draft_of(plan):
    return plan.versions.get(status=PlanVersion.Status.DRAFT)


def fill(version, actor, text="Do the right thing."):
    for section in version.sections.all():
        services.section_update(section=section, actor=actor, body=f"{text} ({section.key})")
    return version


def publish(version, *, author, approver, comment=""):
    """Take a draft all the way to published: submit by author, approve and publish by approver."""
    services.version_submit(version=version, actor=author, proof=signer_proof(author))
    services.version_approve(version=version, actor=approver, proof=signer_proof(approver))
    services.version_publish(
        version=version, actor=approver, proof=signer_proof(approver), comment=comment
    )
    version.refresh_from_db()
    return version


def published_plan(code="IRP", audience=(STAFF,), approver=None, **kwargs):
    """A plan whose version 1 is published; returns (plan, version, author, approver)."""
    plan = make_plan(code=code, audience=audience, **kwargs)
    author = plan.owner
    approver = approver or factories.approver(username=f"approver-{code.lower()}")
    version = fill(draft_of(plan), author)
    publish(version, author=author, approver=approver)
    return plan, version, author, approver
