"""Demo data of plans: one plan with a superseded, a published and an in-review version."""

from django.contrib.auth.models import Group

from core.roles import STAFF
from core.signing import system_proof

from . import services
from .models import Plan, PlanVersion

CODE = "IRP"

BODIES = {
    "incident-definition": (
        "An **incident** is any unplanned event that disrupts, or could disrupt, a service we "
        "provide or puts sensitive data or infrastructure at risk.\n\n"
        "- the affected service or system is named in every report;\n"
        "- the impact on business operations is assessed on the four-level impact scale."
    ),
    "roles-and-responsibilities": (
        "- **Incident manager**: sets direction, owns escalation and closure.\n"
        "- **Communications lead**: keeps stakeholders informed on the agreed schedule.\n"
        "- **Technical lead**: directs containment, eradication and recovery.\n"
        "- **Scribe**: keeps the timeline."
    ),
    "communication-plan": (
        "Stakeholders receive updates at the interval the response targets set for the "
        "incident's priority, by email, using the message templates."
    ),
    "incident-classification": (
        "Impact (1 extensive … 4 minor) and urgency (1 critical … 4 low) give the priority "
        "P1–P4. Priority decides the response targets."
    ),
    "incident-reporting": (
        "Report every incident on the standard form within **24 hours** of it occurring. "
        "You may ask to stay anonymous."
    ),
    "escalation-procedures": (
        "1. Team lead\n2. Incident manager\n3. Senior management\n\n"
        "Escalate when the acknowledge target is at risk or the issue cannot be resolved."
    ),
    "containment-and-eradication": (
        "Contain first: stop the spread. Then remove the cause and confirm it is gone."
    ),
    "recovery-and-post-incident": (
        "Restore service, then hold a post-incident review for every P1 and P2 within ten "
        "working days."
    ),
    "training-and-awareness": (
        "Everyone completes the awareness briefing yearly; responders join a drill each quarter."
    ),
    "review-and-revision": "This plan is reviewed every twelve months and after every P1.",
    "acknowledgement": (
        "By acknowledging you confirm you have read and understood this plan and know your "
        "responsibilities under it."
    ),
}


def demo_proof(user):
    """Demo signatures are the system's, marked so (method "system"): nobody typed a password."""
    return system_proof(user, "demo data")


def _edit(version, actor, bodies):
    for section in version.sections.all():
        if section.key in bodies:
            services.section_update(section=section, actor=actor, body=bodies[section.key])


def _ack(version, user):
    return services.acknowledgement_create(
        version=version,
        actor=user,
        proof=demo_proof(user),
        full_name=user.get_full_name(),
        content_hash=version.content_hash,
        ip_address="127.0.0.1",
        user_agent="demo loader",
    )


def _submitted_draft(plan, author, *, key, addition, summary, comment):
    """The plan's next draft, with `addition` to the section `key`, submitted for review."""
    version = services.version_create_draft(plan=plan, actor=author)
    _edit(version, author, {key: BODIES[key] + addition})
    services.version_update(version=version, actor=author, change_summary=summary)
    return services.version_submit(
        version=version, actor=author, proof=demo_proof(author), comment=comment
    )


def load(stdout, actor=None, context=None):
    """Create the demo plans (idempotent: an existing plan is left as it is)."""
    users = (context or {}).get("core", {})
    _load_approver_authored(stdout, users["coordinator"], users["approver"])
    plan = Plan.objects.filter(code=CODE).first()
    if plan is not None:
        stdout.write(f"  plans: {plan} already present")
        return {"plan": plan, "published": plan.versions.filter(status="published").first()}
    author, approver = users["coordinator"], users["approver"]
    plan = services.plan_create(
        actor=author,
        code=CODE,
        title="Incident response plan",
        purpose="How we detect, respond to and learn from incidents.",
        scope="All services, systems and staff.",
        objectives="Limit the impact of incidents and restore normal service quickly.",
        audience=[Group.objects.get(name=STAFF)],
    )
    v1 = plan.versions.get(number=1)
    _edit(v1, author, BODIES)
    services.version_submit(
        version=v1, actor=author, proof=demo_proof(author), comment="First version for review."
    )
    services.version_approve(
        version=v1, actor=approver, proof=demo_proof(approver), comment="Looks complete."
    )
    services.version_publish(
        version=v1, actor=approver, proof=demo_proof(approver), comment="Publishing version 1."
    )
    for name in ("alex", "jordan"):
        _ack(PlanVersion.objects.get(pk=v1.pk), users[name])

    v2 = _submitted_draft(
        plan,
        author,
        key="incident-reporting",
        addition=" Use the self-service site or the API; late reports are flagged.",
        summary="Reporting: where to report, late reports flagged.",
        comment="Clarifies reporting.",
    )
    services.version_approve(
        version=v2, actor=approver, proof=demo_proof(approver), comment="Approved."
    )
    services.version_publish(
        version=v2, actor=approver, proof=demo_proof(approver), comment="Publishing version 2."
    )
    v2.refresh_from_db()
    for name in ("alex", "priya", "tomasz"):
        _ack(v2, users[name])

    services.change_request_create(
        plan=plan,
        actor=author,
        summary="Name the on-call rota in the escalation section",
        details="During the last drill nobody knew who the level 2 contact was.",
        source="Quarterly drill",
    )
    _submitted_draft(
        plan,
        author,
        key="escalation-procedures",
        addition="\n\nThe on-call rota names the level 2 contact for each week.",
        summary="Escalation: the on-call rota names level 2.",
        comment="Ready for review.",
    )
    stdout.write(
        f"  plans: {plan} (v1 superseded, v2 published with 3 acknowledgements, v3 in review)"
    )
    return {"plan": plan, "published": v2}


APPROVER_CODE = "DBP"


def _load_approver_authored(stdout, coordinator, approver):
    """A draft an approver wrote and submitted: they see why they may not approve it."""
    if Plan.objects.filter(code=APPROVER_CODE).exists():
        return
    plan = services.plan_create(
        actor=coordinator,
        code=APPROVER_CODE,
        title="Data breach response plan",
        purpose="What to do in the first 72 hours of a personal-data breach.",
        audience=[Group.objects.get(name=STAFF)],
        owner=approver,
    )
    version = plan.versions.get(number=1)
    _edit(version, approver, BODIES)
    services.version_submit(
        version=version,
        actor=approver,
        proof=demo_proof(approver),
        comment="Drafted by an approver.",
    )
    stdout.write(
        f"  plans: {plan} (v1 written and submitted by {approver}: another approver must approve)"
    )
