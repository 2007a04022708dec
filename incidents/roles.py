"""Model permissions of the incidents app per role (fnmatch patterns over app_label.codename)."""

_MODELS = (
    "incident",
    "category",
    "responsetarget",
    "teammember",
    "escalationrule",
    "escalation",
    "timelineentry",
    "messagetemplate",
    "communication",
    "action",
    "postincidentreview",
    "referencecounter",
    "attachment",
    "obligation",
    "obligationsubmission",
    "obligationwaiver",
)

PERMISSIONS = {
    # Coordinators run incidents; confidential ones only when on the team, and
    # anonymous reporters stay hidden from them (no see_* permissions).
    "Coordinators": [
        f"incidents.{verb}_{model}" for model in _MODELS for verb in ("view", "add", "change")
    ]
    + ["incidents.view_historical*"]
    # Taking someone off a team (the API's one DELETE): recorded, not evidence erased.
    + ["incidents.delete_teammember"]
    # Downloads of evidence files are recorded by the service, never written by hand.
    + ["incidents.view_attachmentdownload"],
    "Compliance": [
        "incidents.view_*",
        "incidents.see_all_confidential",
        "incidents.see_reporter_identity",
    ],
    "Staff": ["incidents.add_incident"],
    # Triage (docs/incidents.md §Intake): read and classify the report, name its manager
    # and team, move it to triaged, escalate it, note why. Nothing of the response after
    # (actions, communications, review), no reference data, no history, never a delete.
    "Incident intake": [
        "incidents.triage_unassigned",
        "incidents.view_incident",
        "incidents.change_incident",
        "incidents.view_category",
        "incidents.view_teammember",
        "incidents.add_teammember",
        "incidents.change_teammember",
        "incidents.view_escalation",
        "incidents.add_escalation",
        "incidents.view_timelineentry",
        "incidents.add_timelineentry",
        # The evidence sent with a report helps to triage it; attaching is the team's.
        "incidents.view_attachment",
    ],
}
