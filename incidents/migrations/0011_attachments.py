"""Evidence files on incidents and their downloads; the database keeps them as they were attached.

- `incidents_attachment`: no DELETE; an UPDATE may only set the supersession columns, once,
  while they are empty (services.attachment_supersede); every other column keeps its value.
- `incidents_attachmentdownload` (the chain of custody): no UPDATE, no DELETE.
- SQLite: no INSERT taking an existing id (REPLACE INTO deletes without firing DELETE
  triggers). PostgreSQL: no TRUNCATE of a table that holds rows; the triggers fire ALWAYS.

The SQL is listed here (SQLITE_FORWARD, PG_FORWARD, ...) so that the tests' flush between
transactional tests lifts and restores these guards like the plans' (tests/conftest.py).
"""

import django.db.models.deletion
import incidents.models.incident
import simple_history.models
from django.conf import settings
from django.db import migrations, models

from core.migration_sql import PG_REFUSED, run_sql_per_vendor

ATTACHMENT = "incidents_attachment"
DOWNLOAD = "incidents_attachmentdownload"
ATTACHMENT_MSG = "incidents: an attachment is evidence; only its supersession may be set, once"
DOWNLOAD_MSG = "incidents: a download record is evidence and can never be changed or deleted"
# Kept as attached (incidents.models.attachments.FIXED_COLUMNS).
FIXED = (
    "id", "incident_id", "action_id", "review_id", "file_name", "content_type", "size",
    "sha256", "stored_name", "uploaded_by_id", "uploaded_at",
)  # fmt: skip
SUPERSESSION = ("superseded_at", "superseded_reason", "superseded_by_id", "superseded_by_person_id")


def _changed(distinct):
    """SQL: a fixed column changed, or a supersession set before changed (`distinct`: the
    vendor's null-safe inequality)."""
    fixed = [f"NEW.{c} {distinct} OLD.{c}" for c in FIXED]
    again = " OR ".join(f"NEW.{c} {distinct} OLD.{c}" for c in SUPERSESSION)
    return " OR ".join([*fixed, f"(OLD.superseded_at IS NOT NULL AND ({again}))"])


def _sqlite_refuse(message):
    return f"BEGIN SELECT RAISE(ABORT, '{message}'); END"


SQLITE_FORWARD = [
    f"CREATE TRIGGER incidents_attachment_frozen BEFORE UPDATE ON {ATTACHMENT} "
    f"WHEN {_changed('IS NOT')} {_sqlite_refuse(ATTACHMENT_MSG)}",
    f"CREATE TRIGGER incidents_attachment_no_delete BEFORE DELETE ON {ATTACHMENT} "
    f"{_sqlite_refuse(ATTACHMENT_MSG)}",
    f"CREATE TRIGGER incidents_attachment_no_replace BEFORE INSERT ON {ATTACHMENT} "
    f"WHEN EXISTS (SELECT 1 FROM {ATTACHMENT} WHERE id = NEW.id) {_sqlite_refuse(ATTACHMENT_MSG)}",
    f"CREATE TRIGGER incidents_download_no_update BEFORE UPDATE ON {DOWNLOAD} "
    f"{_sqlite_refuse(DOWNLOAD_MSG)}",
    f"CREATE TRIGGER incidents_download_no_delete BEFORE DELETE ON {DOWNLOAD} "
    f"{_sqlite_refuse(DOWNLOAD_MSG)}",
    f"CREATE TRIGGER incidents_download_no_replace BEFORE INSERT ON {DOWNLOAD} "
    f"WHEN EXISTS (SELECT 1 FROM {DOWNLOAD} WHERE id = NEW.id) {_sqlite_refuse(DOWNLOAD_MSG)}",
]
SQLITE_BACKWARD = [
    f"DROP TRIGGER IF EXISTS {name}"
    for name in (
        "incidents_attachment_frozen",
        "incidents_attachment_no_delete",
        "incidents_attachment_no_replace",
        "incidents_download_no_update",
        "incidents_download_no_delete",
        "incidents_download_no_replace",
    )
]


def _pg_truncate_guard(table, message):
    return [
        f"""CREATE OR REPLACE FUNCTION {table}_truncate_guard() RETURNS trigger AS $$
        BEGIN
          IF EXISTS (SELECT 1 FROM {table}) THEN
            RAISE EXCEPTION '{message}' USING ERRCODE = '{PG_REFUSED}';
          END IF;
          RETURN NULL;
        END $$ LANGUAGE plpgsql""",
        f"""CREATE TRIGGER {table}_truncate_guard BEFORE TRUNCATE ON {table}
        FOR EACH STATEMENT EXECUTE FUNCTION {table}_truncate_guard()""",
        f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {table}_truncate_guard",
    ]


PG_FORWARD = [
    f"""CREATE OR REPLACE FUNCTION {ATTACHMENT}_guard() RETURNS trigger AS $$
    BEGIN
      IF TG_OP = 'DELETE' OR ({_changed("IS DISTINCT FROM")}) THEN
        RAISE EXCEPTION '{ATTACHMENT_MSG}' USING ERRCODE = '{PG_REFUSED}';
      END IF;
      RETURN NEW;
    END $$ LANGUAGE plpgsql""",
    f"""CREATE TRIGGER {ATTACHMENT}_guard BEFORE UPDATE OR DELETE ON {ATTACHMENT}
    FOR EACH ROW EXECUTE FUNCTION {ATTACHMENT}_guard()""",
    f"ALTER TABLE {ATTACHMENT} ENABLE ALWAYS TRIGGER {ATTACHMENT}_guard",
    f"""CREATE OR REPLACE FUNCTION {DOWNLOAD}_guard() RETURNS trigger AS $$
    BEGIN
      RAISE EXCEPTION '{DOWNLOAD_MSG}' USING ERRCODE = '{PG_REFUSED}';
    END $$ LANGUAGE plpgsql""",
    f"""CREATE TRIGGER {DOWNLOAD}_guard BEFORE UPDATE OR DELETE ON {DOWNLOAD}
    FOR EACH ROW EXECUTE FUNCTION {DOWNLOAD}_guard()""",
    f"ALTER TABLE {DOWNLOAD} ENABLE ALWAYS TRIGGER {DOWNLOAD}_guard",
    *_pg_truncate_guard(ATTACHMENT, ATTACHMENT_MSG),
    *_pg_truncate_guard(DOWNLOAD, DOWNLOAD_MSG),
]
PG_BACKWARD = [
    statement
    for table in (ATTACHMENT, DOWNLOAD)
    for statement in (
        f"DROP TRIGGER IF EXISTS {table}_guard ON {table}",
        f"DROP TRIGGER IF EXISTS {table}_truncate_guard ON {table}",
        f"DROP FUNCTION IF EXISTS {table}_guard()",
        f"DROP FUNCTION IF EXISTS {table}_truncate_guard()",
    )
]


class Migration(migrations.Migration):

    dependencies = [
        ('incidents', '0010_action_due_reminder_sent_for'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='Attachment',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('file_name', models.CharField(help_text="The file's name as uploaded.", max_length=255)),
                ('content_type', models.CharField(help_text="Taken from the name's extension and checked on the content.", max_length=100)),
                ('size', models.PositiveBigIntegerField(help_text='Bytes, counted on upload.')),
                ('sha256', models.CharField(help_text='SHA-256 of the content, on upload.', max_length=64)),
                ('stored_name', models.CharField(editable=False, max_length=255)),
                ('uploaded_at', models.DateTimeField(default=incidents.models.incident.now)),
                ('superseded_at', models.DateTimeField(blank=True, editable=False, null=True)),
                ('superseded_reason', models.TextField(blank=True, editable=False)),
                ('action', models.ForeignKey(blank=True, help_text="The incident's action this file belongs to, if any.", null=True, on_delete=django.db.models.deletion.PROTECT, related_name='attachments', to='incidents.action')),
                ('incident', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='attachments', to='incidents.incident')),
                ('review', models.ForeignKey(blank=True, help_text="The incident's post-incident review, if the file belongs to it.", null=True, on_delete=django.db.models.deletion.PROTECT, related_name='attachments', to='incidents.postincidentreview')),
                ('superseded_by', models.ForeignKey(blank=True, editable=False, help_text='The file that replaces this one (none: withdrawn without a replacement).', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='supersedes', to='incidents.attachment')),
                ('superseded_by_person', models.ForeignKey(blank=True, editable=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('uploaded_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ('-uploaded_at', '-id'),
            },
        ),
        migrations.CreateModel(
            name='AttachmentDownload',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('at', models.DateTimeField(default=incidents.models.incident.now)),
                ('via', models.CharField(choices=[('admin', 'Admin'), ('api', 'API')], max_length=10)),
                ('attachment', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='downloads', to='incidents.attachment')),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ('-at', '-id'),
            },
        ),
        migrations.CreateModel(
            name='HistoricalAttachment',
            fields=[
                ('id', models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name='ID')),
                ('chain_previous', models.CharField(blank=True, default='', editable=False, help_text="chain_hash of the row before this one in its table ('' for the first).", max_length=64)),
                ('chain_hash', models.CharField(blank=True, default='', editable=False, help_text="SHA-256 of chain_previous + this row's canonical content (docs/evidence.md).", max_length=64)),
                ('file_name', models.CharField(help_text="The file's name as uploaded.", max_length=255)),
                ('content_type', models.CharField(help_text="Taken from the name's extension and checked on the content.", max_length=100)),
                ('size', models.PositiveBigIntegerField(help_text='Bytes, counted on upload.')),
                ('sha256', models.CharField(help_text='SHA-256 of the content, on upload.', max_length=64)),
                ('stored_name', models.CharField(editable=False, max_length=255)),
                ('uploaded_at', models.DateTimeField(default=incidents.models.incident.now)),
                ('superseded_at', models.DateTimeField(blank=True, editable=False, null=True)),
                ('superseded_reason', models.TextField(blank=True, editable=False)),
                ('history_id', models.AutoField(primary_key=True, serialize=False)),
                ('history_date', models.DateTimeField()),
                ('history_change_reason', models.TextField(null=True)),
                ('history_type', models.CharField(choices=[('+', 'Created'), ('~', 'Changed'), ('-', 'Deleted')], max_length=1)),
                ('action', models.ForeignKey(blank=True, db_constraint=False, help_text="The incident's action this file belongs to, if any.", null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='incidents.action')),
                ('history_user', models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('incident', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='incidents.incident')),
                ('review', models.ForeignKey(blank=True, db_constraint=False, help_text="The incident's post-incident review, if the file belongs to it.", null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='incidents.postincidentreview')),
                ('superseded_by', models.ForeignKey(blank=True, db_constraint=False, editable=False, help_text='The file that replaces this one (none: withdrawn without a replacement).', null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='incidents.attachment')),
                ('superseded_by_person', models.ForeignKey(blank=True, db_constraint=False, editable=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('uploaded_by', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name': 'historical attachment',
                'verbose_name_plural': 'historical attachments',
                'ordering': ('-history_date', '-history_id'),
                'get_latest_by': ('history_date', 'history_id'),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name='HistoricalAttachmentDownload',
            fields=[
                ('id', models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name='ID')),
                ('chain_previous', models.CharField(blank=True, default='', editable=False, help_text="chain_hash of the row before this one in its table ('' for the first).", max_length=64)),
                ('chain_hash', models.CharField(blank=True, default='', editable=False, help_text="SHA-256 of chain_previous + this row's canonical content (docs/evidence.md).", max_length=64)),
                ('at', models.DateTimeField(default=incidents.models.incident.now)),
                ('via', models.CharField(choices=[('admin', 'Admin'), ('api', 'API')], max_length=10)),
                ('history_id', models.AutoField(primary_key=True, serialize=False)),
                ('history_date', models.DateTimeField()),
                ('history_change_reason', models.TextField(null=True)),
                ('history_type', models.CharField(choices=[('+', 'Created'), ('~', 'Changed'), ('-', 'Deleted')], max_length=1)),
                ('attachment', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='incidents.attachment')),
                ('history_user', models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('user', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name': 'historical attachment download',
                'verbose_name_plural': 'historical attachment downloads',
                'ordering': ('-history_date', '-history_id'),
                'get_latest_by': ('history_date', 'history_id'),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.AddIndex(
            model_name='attachment',
            index=models.Index(fields=['incident', '-uploaded_at', '-id'], name='attachment_incident_idx'),
        ),
        migrations.AddConstraint(
            model_name='attachment',
            constraint=models.CheckConstraint(condition=models.Q(('size__gt', 0)), name='attachment_not_empty', violation_error_message='An attachment cannot be empty.'),
        ),
        migrations.AddConstraint(
            model_name='attachment',
            constraint=models.CheckConstraint(condition=models.Q(('action__isnull', True), ('review__isnull', True), _connector='OR'), name='attachment_one_parent', violation_error_message='Attach a file to an action or to the review, not both.'),
        ),
        migrations.AddConstraint(
            model_name='attachment',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('superseded_at__isnull', True), ('superseded_by__isnull', True), ('superseded_by_person__isnull', True), ('superseded_reason', '')), models.Q(('superseded_at__isnull', False), ('superseded_by_person__isnull', False), models.Q(('superseded_reason', ''), _negated=True)), _connector='OR'), name='attachment_superseded_whole', violation_error_message='A superseded file records when, by whom and why.'),
        ),
        migrations.AddConstraint(
            model_name='attachment',
            constraint=models.CheckConstraint(condition=models.Q(('superseded_by__isnull', True), models.Q(('superseded_by', models.F('id')), _negated=True), _connector='OR'), name='attachment_not_superseded_by_itself', violation_error_message='A file cannot supersede itself.'),
        ),
        migrations.AddIndex(
            model_name='attachmentdownload',
            index=models.Index(fields=['attachment', '-at'], name='attachmentdownload_idx'),
        ),
        migrations.AddIndex(
            model_name='historicalattachment',
            index=models.Index(fields=['history_date', 'id'], name='incidents_h_history_ef6de9_idx'),
        ),
        migrations.AddIndex(
            model_name='historicalattachmentdownload',
            index=models.Index(fields=['history_date', 'id'], name='incidents_h_history_5ea06b_idx'),
        ),
        run_sql_per_vendor(
            {"sqlite": SQLITE_FORWARD, "postgresql": PG_FORWARD},
            {"sqlite": SQLITE_BACKWARD, "postgresql": PG_BACKWARD},
            what="the attachment and download guards",
        ),
    ]
