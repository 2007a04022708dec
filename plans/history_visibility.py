"""What a reader may see of the plans' history in the audit log (core.audit): a change request
with a confidential source keeps its text out of sight (queries.change_request_history_mask)."""

from core.audit import HistoryRule

from . import queries
from .models import PlanChangeRequest


def history_rules(user):
    def masks(records):
        ids = {record.id for record in records}
        requests = PlanChangeRequest.objects.in_bulk(ids)
        return {
            record.history_id: queries.change_request_history_mask(user, requests[record.id])
            for record in records
            if record.id in requests
        }

    return {PlanChangeRequest: HistoryRule(masks=masks)}
