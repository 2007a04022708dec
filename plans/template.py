"""The standard eleven-section plan template (seed 001), with guidance for the author."""

STANDARD_SECTIONS = [
    (
        "incident-definition",
        "Incident Definition",
        "Say what counts as an incident here: the affected services or systems, the impact on "
        "business operations, and the risks to sensitive data or infrastructure. This definition "
        "is the reference point for every later step.",
    ),
    (
        "roles-and-responsibilities",
        "Roles and Responsibilities",
        "Name the roles (incident manager, communications lead, technical lead, scribe, external "
        "vendors) and what each is responsible for, so everyone knows their duties and overlaps "
        "are resolved before an incident, not during one.",
    ),
    (
        "communication-plan",
        "Communication Plan",
        "Who must be told what, through which channel and how often; key messages; how "
        "feedback is tracked. Consider language, cultural and accessibility barriers.",
    ),
    (
        "incident-classification",
        "Incident Classification",
        "The categories and how impact and urgency give the priority, which decides the "
        "resources and attention an incident gets.",
    ),
    (
        "incident-reporting",
        "Incident Reporting",
        "How staff report an incident on the standard form, within 24 hours of it occurring; "
        "how reports are assessed and kept confidential.",
    ),
    (
        "escalation-procedures",
        "Escalation Procedures",
        "When and to whom an unresolved incident is escalated (team lead, incident manager, "
        "senior management, specialist teams), and who decides.",
    ),
    (
        "containment-and-eradication",
        "Containment and Eradication",
        "How the spread of an incident is stopped and its cause removed: assessment of what is "
        "affected, the teams deployed, and support for the people affected.",
    ),
    (
        "recovery-and-post-incident",
        "Recovery and Post-Incident Activities",
        "Restoring systems and services, the post-incident review, documenting findings, "
        "corrective actions and communication with customers, partners and regulators.",
    ),
    (
        "training-and-awareness",
        "Training and Awareness",
        "The training, drills and awareness briefings that keep staff ready, how often they "
        "run, and how attendance and completion are recorded.",
    ),
    (
        "review-and-revision",
        "Review and Revision",
        "How often this plan is reviewed, who reviews it, and how lessons from incidents and "
        "exercises feed into the next version.",
    ),
    (
        "acknowledgement",
        "Acknowledgement",
        "What staff confirm when they acknowledge this plan: that they have read and understood "
        "it and know their responsibilities under it.",
    ),
]

STANDARD_KEYS = [key for key, _, _ in STANDARD_SECTIONS]
