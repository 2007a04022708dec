"""Admin of the training programme, by what each part is for; every change goes through the services.

- `courses`: courses with their progress, the compliance report (page and streamed CSV),
  reminder clocks;
- `sessions`: sessions with their records and evaluation inline, marking registrations;
- `records`: records, marking them, the sign-in sheet import;
- `exercises`: after-action evaluations, objectives and improvement actions.
"""

from . import courses, exercises, records, sessions  # noqa: F401  (they register the models)
