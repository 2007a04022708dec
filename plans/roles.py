"""Model permissions of the plans app per role (fnmatch patterns over app_label.codename)."""

PERMISSIONS = {
    "Coordinators": [
        "plans.view_*",
        "plans.add_plan",
        "plans.change_plan",
        "plans.add_planversion",
        "plans.change_planversion",
        "plans.change_section",
        "plans.add_planchangerequest",
        "plans.change_planchangerequest",
        "plans.add_acknowledgement",
    ],
    # Approvers read everything they review, but the compliance report is not theirs. They
    # may also author drafts (product.md); separation of duties stops them approving those.
    "Plan approvers": [
        "plans.add_planversion",
        "plans.change_planversion",
        "plans.change_section",
        "plans.view_plan",
        "plans.view_planversion",
        "plans.view_section",
        "plans.view_review",
        "plans.view_signature",
        "plans.view_planchangerequest",
        "plans.view_acknowledgement",
        "plans.view_unpublished_planversion",
        "plans.approve_planversion",
        "plans.publish_planversion",
        "plans.add_planchangerequest",
        "plans.add_acknowledgement",
    ],
    # Compliance also reads what a change request restated as confidential said before
    # (its history); coordinators, who read the plans, do not (plans.queries).
    "Compliance": ["plans.view_*", "plans.read_confidential_source"],
    "Staff": [
        "plans.view_plan",
        "plans.view_planversion",
        "plans.view_section",
        "plans.view_acknowledgement",
        "plans.view_signature",
        "plans.add_acknowledgement",
    ],
}
