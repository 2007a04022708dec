"""The post-incident review, and the plan change request it files."""

from django.db import transaction
from django.utils import timezone

from core.errors import InvalidInput, TransitionNotAllowed
from core.history import stamp
from core.services import audited_save, lock
from core.workflow import check_transition
from plans import services as plan_services
from plans.models import PlanChangeRequest

from ..models import PostIncidentReview, TimelineEntry
from .common import incident_url, require_on, timeline

REVIEW_FIELDS = (
    "summary",
    "root_cause",
    "contributing_factors",
    "went_well",
    "went_badly",
    "lessons_learned",
    "plan_change_needed",
    "plan_change_description",
)

# What a completed review must say.
REVIEW_REQUIRED = ("summary", "root_cause", "lessons_learned")


@transaction.atomic
def review_save(*, incident, actor, participants=None, **fields):
    """Create or edit the post-incident review while it is a draft."""
    unknown = set(fields) - set(REVIEW_FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown review fields: {', '.join(sorted(unknown))}.")
    incident = lock(incident)
    review = PostIncidentReview.objects.filter(incident=incident).first() or PostIncidentReview(
        incident=incident
    )
    verb = "add" if review.pk is None else "change"
    require_on(actor, f"incidents.{verb}_postincidentreview", incident)
    if review.is_completed:
        raise TransitionNotAllowed("A completed review can no longer be edited.")
    for name, value in fields.items():
        setattr(review, name, value)
    audited_save(review, actor=actor, reason="Review edited")
    if participants is not None:
        stamp(review, actor=actor, reason="Participants changed")
        review.participants.set(participants)
    return review


CONFIDENTIAL_CHANGE_REQUEST = {
    "summary": PlanChangeRequest.CONFIDENTIAL_SUMMARY,
    "details": (
        "The requested change is written in the incident's post-incident review. The incident "
        "is confidential: only its response team, compliance and administrators can open it "
        "from the link, so ask them for the details."
    ),
    "source": "Post-incident review of a confidential incident",
}


def change_request_text(incident, review):
    """What the plan change request a review files says (summary, details, source, link).

    A change request is read by everyone who reads the plan (its list, search, the open
    requests of each version, the admin), not only by the incident's team. So for a
    confidential incident it copies nothing of the incident: not the review's text, not
    its reference; only a link, which opens the incident for those who may see it.
    """
    if incident.confidential:
        return {**CONFIDENTIAL_CHANGE_REQUEST, "source_url": incident_url(incident)}
    return {
        "summary": f"{incident.reference}: {review.plan_change_description[:250]}",
        "details": review.plan_change_description,
        "source": f"Post-incident review of {incident.reference}",
        "source_url": incident_url(incident),
    }


def restate_confidential_change_requests(*, actor):
    """Restate every change request a confidential incident's review filed that still
    quotes it (filed before requests were written this way); returns how many. Idempotent."""
    reviews = (
        PostIncidentReview.objects.filter(
            incident__confidential=True, plan_change_request__isnull=False
        )
        .exclude(plan_change_request__summary=CONFIDENTIAL_CHANGE_REQUEST["summary"])
        .select_related("incident")
    )
    restated = 0
    for review in reviews:
        with transaction.atomic():
            withdraw_change_request_text(review.incident, actor=actor)
        restated += 1
    return restated


def withdraw_change_request_text(incident, *, actor):
    """An incident made confidential: its review's change request stops quoting it.

    (The request's history keeps what it said before, as every history does; it was
    written while the incident was open to all coordinators.)
    """
    review = PostIncidentReview.objects.filter(incident=incident).first()
    if review is None or review.plan_change_request_id is None:
        return
    plan_services.change_request_restate(
        change_request=review.plan_change_request,
        actor=actor,
        reason="Its incident became confidential",
        **CONFIDENTIAL_CHANGE_REQUEST,
    )


@transaction.atomic
def review_complete(*, incident, actor):
    """Complete the review; when it asks for a plan change, the plan's owner gets a change request."""
    incident = lock(incident)
    require_on(actor, "incidents.change_postincidentreview", incident)
    review = PostIncidentReview.objects.select_for_update().filter(incident=incident).first()
    if review is None:
        raise TransitionNotAllowed("Write the post-incident review before completing it.")
    if review.is_completed:
        return review
    missing = [name for name in REVIEW_REQUIRED if not getattr(review, name).strip()]
    if missing:
        raise InvalidInput(
            "A completed review needs: " + ", ".join(m.replace("_", " ") for m in missing) + "."
        )
    check_transition(review, PostIncidentReview.ReviewStatus.COMPLETED)
    review.status = PostIncidentReview.ReviewStatus.COMPLETED
    review.completed_at = timezone.now()
    review.completed_by = actor
    plan = incident.category.plan if incident.category else None
    if review.plan_change_needed and plan is not None and review.plan_change_request_id is None:
        review.plan_change_request = plan_services.change_request_create(
            plan=plan, actor=actor, **change_request_text(incident, review)
        )
    audited_save(review, actor=actor, reason="Review completed")
    timeline(incident, TimelineEntry.Kind.REVIEW, "Post-incident review completed", actor=actor)
    return review
