"""Why core/history_diff.py compares the versions itself rather than through simple-history's
`diff_against` (issue 13, item 7): the library's comparison leaves out the changes an auditor
looks for first. If a release of simple-history stops doing so, this test fails and the
decision can be made again."""

import pytest

from core.history_diff import consecutive, diff
from incidents.models import Status
from tests.incidents import factories as f

pytestmark = pytest.mark.django_db


def test_diff_against_skips_the_status_change_our_engine_shows(coordinator):
    incident = f.walk(f.incident(), coordinator, Status.TRIAGED)
    newest, previous = incident.history.order_by("-history_date", "-history_id")[:2]

    ours = diff(consecutive([newest], previous))[0].changes
    assert ours["status"] == (Status.REPORTED, Status.TRIAGED)

    # model_to_dict() skips non-editable fields (status, priority, the phase times): left
    # out by default, and a KeyError when named in included_fields.
    assert "status" not in newest.diff_against(previous).changed_fields
    with pytest.raises(KeyError):
        newest.diff_against(previous, included_fields=["status"])
