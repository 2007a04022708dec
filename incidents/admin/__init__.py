"""The incidents app in the admin, one module per purpose; importing them registers the pages.

- `incident`: the coordinators' workspace (incidents, their inlines, phase and escalation
  actions, the dashboard);
- `records`: the records around an incident (categories, targets, rules, templates,
  escalations, timeline, actions, reviews);
- `attachments`: evidence files (inlines on the incident page, downloads recorded first,
  supersession);
- `obligations`: notification obligations (configuration, and their states, submissions and
  steps on each incident's page);
- `communications`: writing, previewing and sending stakeholder communications;
- `common`: what they share (visibility by incident, target colours, filters).
"""

from . import attachments, communications, incident, obligations, records

__all__ = ["attachments", "communications", "incident", "obligations", "records"]
