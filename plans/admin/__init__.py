"""Admin of plans, by what each part is for; importing this registers them all.

- `plans`: plans, their versions and change requests inline, starting a new draft;
- `versions`: authoring a draft, the review workflow's buttons, comparing versions;
- `compliance`: who acknowledged a version, on a page and as CSV;
- `change_requests`: asking for a change to a plan;
- `evidence`: acknowledgements, reviews, sections, notices and clocks, read-only.

Every change goes through the services; the rules are theirs and `queries`'.
"""

from . import change_requests, evidence, plans, versions  # noqa: F401  (registers the admins)
