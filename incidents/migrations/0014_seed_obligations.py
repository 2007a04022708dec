"""Seeds the notification obligations (models.obligations.SEEDED_OBLIGATIONS) on the
categories they fit, where those exist (a new installation gets them with the demo data, or
adds them in the admin). Each row is written with its history row, chained (core.chain), as
the services would: the change reason says it came from this migration."""

from django.db import migrations
from django.utils import timezone

from core.chain import canonical_content, chain_hash, chain_head

REASON = "Seeded by migration 0010 (issue 14: notification obligations)"


def seed(apps, schema_editor):
    from incidents.models.obligations import SEEDED_OBLIGATIONS

    Category = apps.get_model("incidents", "Category")
    Obligation = apps.get_model("incidents", "Obligation")
    HistoricalObligation = apps.get_model("incidents", "HistoricalObligation")
    connection = schema_editor.connection
    by_key = {}
    for key, category_name, name, authority, deliverable, hours, months, anchor, previous, cap in (
        SEEDED_OBLIGATIONS
    ):
        category = Category.objects.filter(name=category_name).first()
        if category is None or Obligation.objects.filter(category=category, name=name).exists():
            continue
        obligation = Obligation.objects.create(
            category=category,
            name=name,
            authority=authority,
            deliverable=deliverable,
            deadline_hours=hours,
            deadline_months=months,
            anchor=anchor,
            previous=by_key.get(previous) if previous else None,
            cap_hours=cap,
        )
        if anchor == "previous" and obligation.previous_id is None:
            obligation.delete()
            continue
        by_key[key] = obligation
        row = HistoricalObligation(
            id=obligation.pk,
            category_id=obligation.category_id,
            name=name,
            authority=authority,
            deliverable=deliverable,
            deadline_hours=hours,
            deadline_months=months,
            anchor=anchor,
            previous_id=obligation.previous_id,
            cap_hours=cap,
            active=True,
            history_date=timezone.now(),
            history_change_reason=REASON,
            history_type="+",
            history_user=None,
        )
        row.chain_previous = chain_head(HistoricalObligation, connection)
        row.chain_hash = chain_hash(row.chain_previous, canonical_content(row))
        row.save()


class Migration(migrations.Migration):
    dependencies = [("incidents", "0013_obligations")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
