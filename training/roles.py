"""Model permissions of the training app per role (fnmatch patterns over app_label.codename)."""

_EDITED = (
    "course",
    "session",
    "record",
    "exerciseevaluation",
    "objectiveresult",
    "improvementaction",
)

PERMISSIONS = {
    # Coordinators run the training programme: they schedule, record and import.
    "Coordinators": ["training.view_*", "training.import_attendance"]
    + [f"training.{verb}_{model}" for model in _EDITED for verb in ("add", "change")],
    # Compliance reads everything (the compliance report included) and writes nothing.
    "Compliance": ["training.view_*"],
    # Staff read courses and sessions, and their own records (the queries filter them).
    "Staff": ["training.view_course", "training.view_session", "training.view_record"],
}
