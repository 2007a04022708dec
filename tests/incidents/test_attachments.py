"""Evidence files on incidents: upload (API, admin), hash and size, limits, supersession,
downloads recorded as the chain of custody, and confidential incidents' files on every door."""

import hashlib

import pytest
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from core.errors import ImmutableRecord, InvalidInput, NotPermitted
from incidents import services
from incidents.models import Attachment, AttachmentDownload, TimelineEntry
from tests import factories
from tests.incidents import factories as incident_factories

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def upload(name="report.pdf", content=PDF, content_type="application/pdf"):
    return SimpleUploadedFile(name, content, content_type=content_type)


@pytest.fixture
def incident(coordinator):
    return incident_factories.incident(reporter=coordinator)


@pytest.fixture
def confidential(coordinator):
    manager = factories.coordinator(username="mgr")
    return incident_factories.incident(
        reporter=manager, confidential=True, incident_manager=manager
    )


def attach(incident, actor, **kwargs):
    return services.attachment_add(incident=incident, actor=actor, upload=upload(**kwargs))


def post_file(client, incident, file=None, **fields):
    data = {"file": file if file is not None else upload(), **fields}
    return client.post(f"/api/v1/incidents/{incident.pk}/attachments/", data, format="multipart")


# -- upload -------------------------------------------------------------------------------


def test_upload_over_the_api_takes_hash_and_size_from_the_bytes(api, coordinator, incident):
    response = post_file(api(coordinator), incident, upload(content_type="text/html"))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert body["size"] == len(PDF)
    assert body["content_type"] == "application/pdf"  # from the name and content, not the claim
    assert body["uploaded_by"] == coordinator.pk
    assert body["file_name"] == "report.pdf"
    assert body["downloads"] == []
    attachment = Attachment.objects.get(pk=body["id"])
    with storages["attachments"].open(attachment.stored_name) as stored:
        assert stored.read() == PDF
    assert attachment.stored_name.endswith(body["sha256"])
    assert attachment.history.count() == 1
    assert TimelineEntry.objects.filter(incident=incident, text__contains=body["sha256"]).exists()


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("empty.pdf", b"", "The file is empty."),
        ("page.html", b"<script>alert(1)</script>", ".html files are not accepted"),
        ("noextension", PDF, "Files without an extension are not accepted"),
        ("fake.pdf", b"<html><script>alert(1)</script>", "is not a .pdf file"),
        ("fake.png", PDF, "is not a .png file"),
        ("binary.txt", b"ab\x00cd", "is not a .txt file"),
    ],
)
def test_refused_files_are_400_and_store_nothing(
    api, coordinator, incident, name, content, message
):
    response = post_file(api(coordinator), incident, upload(name, content))
    assert response.status_code == 400, response.content
    assert message in str(response.json())
    assert not Attachment.objects.exists()


def test_a_very_long_name_is_cut_to_255_keeping_its_extension(api, coordinator, incident):
    # Django's upload handling cuts names to 255 characters before any view sees them.
    response = post_file(api(coordinator), incident, upload("a" * 300 + ".pdf"))
    assert response.status_code == 201
    assert len(response.json()["file_name"]) == 255
    assert response.json()["file_name"].endswith(".pdf")


def test_a_name_over_255_is_refused_by_the_service(coordinator, incident):
    with pytest.raises(InvalidInput, match="longer than 255"):
        services.attachment_add(incident=incident, actor=coordinator, upload=_LongName(PDF))


class _LongName(SimpleUploadedFile):
    def __init__(self, content):
        super().__init__("x.pdf", content)
        self.__dict__["_name"] = "a" * 300 + ".pdf"

    @property
    def name(self):
        return self.__dict__["_name"]

    @name.setter
    def name(self, value):
        self.__dict__["_name"] = value


def test_no_file_is_400(api, coordinator, incident):
    response = api(coordinator).post(
        f"/api/v1/incidents/{incident.pk}/attachments/", {"reason": "x"}, format="multipart"
    )
    assert response.status_code == 400
    assert "file" in response.json()


def test_json_body_is_415_not_500(api, coordinator, incident):
    response = api(coordinator).post(
        f"/api/v1/incidents/{incident.pk}/attachments/", {"file": "x"}, format="json"
    )
    assert response.status_code == 415


def test_too_big_is_413_with_the_limit(api, coordinator, incident, settings):
    settings.ATTACHMENT_MAX_BYTES = 20
    response = post_file(api(coordinator), incident)
    assert response.status_code == 413
    assert "larger than 20 bytes" in response.json()["detail"]
    assert not Attachment.objects.exists()


def test_allowed_types_come_from_settings(api, coordinator, incident, settings):
    settings.ATTACHMENT_ALLOWED_TYPES = ["png"]
    assert post_file(api(coordinator), incident).status_code == 400
    assert post_file(api(coordinator), incident, upload("shot.png", PNG)).status_code == 201


def test_nul_in_the_file_name_is_400(coordinator, incident):
    with pytest.raises(InvalidInput, match="NUL"):
        attach(incident, coordinator, name="re\x00port.pdf")


def test_staff_may_not_attach(api, staff_user, incident):
    response = post_file(api(staff_user), incident)
    assert response.status_code in (403, 404)
    assert not Attachment.objects.exists()


def test_a_failed_save_leaves_no_file_behind(coordinator, incident, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(services.attachments, "timeline", broken)
    with pytest.raises(RuntimeError):
        attach(incident, coordinator)
    name = f"sha256/{hashlib.sha256(PDF).hexdigest()[:2]}/{hashlib.sha256(PDF).hexdigest()}"
    assert not storages["attachments"].exists(name)
    assert not Attachment.objects.exists()


def test_the_same_content_twice_is_stored_once_and_kept_twice(coordinator, incident):
    first = attach(incident, coordinator)
    second = attach(incident, coordinator, name="again.pdf")
    assert first.stored_name == second.stored_name
    assert Attachment.objects.count() == 2


def test_an_action_of_another_incident_is_refused(coordinator, incident):
    other = incident_factories.incident(reporter=coordinator)
    action = services.action_create(
        incident=other, actor=coordinator, kind="containment", description="Block"
    )
    with pytest.raises(InvalidInput, match="another incident"):
        services.attachment_add(
            incident=incident, actor=coordinator, upload=upload(), action=action
        )
    own = services.action_create(
        incident=incident, actor=coordinator, kind="containment", description="Block"
    )
    attachment = services.attachment_add(
        incident=incident, actor=coordinator, upload=upload(), action=own
    )
    assert attachment.action == own


# -- never changed, superseded ---------------------------------------------------------------


def test_supersede_keeps_both(api, coordinator, incident):
    wrong = attach(incident, coordinator, name="wrong.pdf")
    response = post_file(
        api(coordinator),
        incident,
        upload("right.pdf", PDF + b"% fixed\n"),
        supersedes=wrong.pk,
        reason="Wrong export attached",
    )
    assert response.status_code == 201, response.content
    wrong.refresh_from_db()
    assert wrong.superseded_by_id == response.json()["id"]
    assert wrong.superseded_reason == "Wrong export attached"
    assert wrong.superseded_by_person == coordinator
    assert Attachment.objects.count() == 2
    # Superseded once: a second time is a conflict.
    again = api(coordinator).post(
        f"/api/v1/attachments/{wrong.pk}/supersede/", {"reason": "again"}, format="json"
    )
    assert again.status_code == 409
    # Still downloadable.
    assert api(coordinator).get(f"/api/v1/attachments/{wrong.pk}/download/").status_code == 200


def test_supersede_needs_a_reason(coordinator, incident):
    attachment = attach(incident, coordinator)
    with pytest.raises(InvalidInput, match="why"):
        services.attachment_supersede(attachment=attachment, actor=coordinator, reason=" ")


def test_supersede_over_the_api_without_replacement(api, coordinator, incident):
    attachment = attach(incident, coordinator)
    response = api(coordinator).post(
        f"/api/v1/attachments/{attachment.pk}/supersede/",
        {"reason": "Belongs to another case"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["superseded_reason"] == "Belongs to another case"
    assert response.json()["superseded_by"] is None


def test_the_database_refuses_to_change_or_delete_an_attachment(coordinator, incident):
    attachment = attach(incident, coordinator)
    for statement in (
        "UPDATE incidents_attachment SET sha256 = 'x' WHERE id = %s",
        "UPDATE incidents_attachment SET file_name = 'x.pdf' WHERE id = %s",
        "DELETE FROM incidents_attachment WHERE id = %s",
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(statement, [attachment.pk])
    services.attachment_supersede(attachment=attachment, actor=coordinator, reason="wrong")
    with pytest.raises(IntegrityError), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE incidents_attachment SET superseded_reason = 'other' WHERE id = %s",
                [attachment.pk],
            )


def test_the_database_refuses_to_change_a_download(coordinator, incident):
    attachment = attach(incident, coordinator)
    record = services.attachment_download(attachment=attachment, actor=coordinator, via="api")
    for statement in (
        "UPDATE incidents_attachmentdownload SET via = 'admin' WHERE id = %s",
        "DELETE FROM incidents_attachmentdownload WHERE id = %s",
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(statement, [record.pk])


# -- downloads ----------------------------------------------------------------------------


def test_download_is_recorded_and_sent_as_an_attachment(
    api, coordinator, compliance_user, incident
):
    attachment = attach(incident, coordinator, name="notes.txt", content=b"<html>hi</html>")
    response = api(compliance_user).get(f"/api/v1/attachments/{attachment.pk}/download/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"<html>hi</html>"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["Content-Type"] == "text/plain"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    record = AttachmentDownload.objects.get()
    assert (record.user, record.via, record.attachment) == (compliance_user, "api", attachment)
    listed = api(coordinator).get(f"/api/v1/incidents/{incident.pk}/attachments/").json()
    assert listed["results"][0]["downloads"][0]["user"] == compliance_user.pk


def test_a_missing_file_is_404_not_500(api, coordinator, incident):
    attachment = attach(incident, coordinator)
    storages["attachments"].delete(attachment.stored_name)
    response = api(coordinator).get(f"/api/v1/attachments/{attachment.pk}/download/")
    assert response.status_code == 404
    assert "missing" in response.json()["detail"]


def test_the_list_runs_a_fixed_number_of_queries(api, coordinator, incident):
    client = api(coordinator)
    url = f"/api/v1/incidents/{incident.pk}/attachments/"

    def count():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    attachment = attach(incident, coordinator)
    services.attachment_download(attachment=attachment, actor=coordinator, via="api")
    small = count()
    for n in range(4):
        more = attach(incident, factories.coordinator(username=f"c{n}"), content=PDF + bytes([n]))
        for m in range(2):
            reader = factories.compliance(username=f"r{n}{m}")
            services.attachment_download(attachment=more, actor=reader, via="api")
    assert count() == small


# -- confidential incidents: every door ---------------------------------------------------------


def test_confidential_files_are_invisible_to_outsiders(api, coordinator, confidential):
    manager = confidential.incident_manager
    attachment = attach(confidential, manager)
    outsider = api(coordinator)
    assert outsider.get(f"/api/v1/incidents/{confidential.pk}/attachments/").status_code == 404
    assert outsider.get(f"/api/v1/attachments/{attachment.pk}/").status_code == 404
    assert outsider.get(f"/api/v1/attachments/{attachment.pk}/download/").status_code == 404
    assert outsider.get(f"/api/v1/attachments/{attachment.pk}/history/").status_code == 404
    assert post_file(outsider, confidential).status_code == 404
    response = outsider.post(
        f"/api/v1/attachments/{attachment.pk}/supersede/", {"reason": "x"}, format="json"
    )
    assert response.status_code == 404
    with pytest.raises(NotPermitted):
        services.attachment_download(attachment=attachment, actor=coordinator, via="api")
    assert not AttachmentDownload.objects.exists()
    # The team reads it.
    assert api(manager).get(f"/api/v1/attachments/{attachment.pk}/download/").status_code == 200


def test_the_reporter_of_a_confidential_incident_does_not_get_its_files(api, staff_user):
    manager = factories.coordinator(username="mgr2")
    incident = incident_factories.incident(reporter=staff_user, confidential=True)
    root = factories.UserFactory(username="root2", is_staff=True, is_superuser=True)
    incident = services.incident_update(incident=incident, actor=root, incident_manager=manager)
    attachment = attach(incident, manager)
    client = api(staff_user)
    assert client.get(f"/api/v1/incidents/{incident.pk}/attachments/").status_code in (403, 404)
    assert client.get(f"/api/v1/attachments/{attachment.pk}/download/").status_code == 404


def test_confidential_files_stay_out_of_the_audit_log(
    api, coordinator, compliance_user, confidential
):
    attachment = attach(confidential, confidential.incident_manager)
    services.attachment_download(
        attachment=attachment, actor=confidential.incident_manager, via="api"
    )
    from core.audit import history_rules

    rules = history_rules(coordinator)
    for model in (Attachment, AttachmentDownload):
        rows = model.history.model.objects.all()
        assert rules[model].visible(rows).count() == 0
    assert rules[Attachment].visible(Attachment.history.model.objects.all()).count() == 0
    everyone = history_rules(compliance_user)
    assert everyone[AttachmentDownload].visible is None


def test_supersede_is_refused_twice_in_the_service(coordinator, incident):
    attachment = attach(incident, coordinator)
    services.attachment_supersede(attachment=attachment, actor=coordinator, reason="wrong")
    with pytest.raises(ImmutableRecord):
        services.attachment_supersede(attachment=attachment, actor=coordinator, reason="again")


# -- admin -------------------------------------------------------------------------------


def _change_page_post(client, incident, file):
    """The incident's change page as the browser posts it, with a file in "Attach evidence"."""
    from django.urls import reverse

    from incidents.admin.attachments import AttachmentUploadInline

    url = reverse("admin:incidents_incident_change", args=[incident.pk])
    page = client.get(url)
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    occurred = data.pop("occurred_at")
    data.update(occurred_at_0=occurred.date(), occurred_at_1=occurred.time())
    for inline in page.context["inline_admin_formsets"]:
        formset = inline.formset
        for name in formset.management_form.fields:
            data[f"{formset.prefix}-{name}"] = formset.management_form[name].value()
        for subform in formset.initial_forms:
            for name in subform.fields:
                value = subform[name].value()
                if value is not None:
                    data[subform.add_prefix(name)] = value
        if isinstance(inline.opts, AttachmentUploadInline):
            data[f"{formset.prefix}-0-upload"] = file
    return client.post(url, data, follow=True)


def test_upload_in_the_admin_and_download_recorded(client, coordinator, incident):
    client.force_login(coordinator)
    response = _change_page_post(client, incident, upload("shot.png", PNG))
    assert response.status_code == 200
    attachment = Attachment.objects.get()
    assert attachment.sha256 == hashlib.sha256(PNG).hexdigest()
    assert attachment.size == len(PNG)
    assert attachment.uploaded_by == coordinator
    from django.urls import reverse

    page = client.get(reverse("admin:incidents_incident_change", args=[incident.pk]))
    download_url = reverse("admin:incidents_attachment_download", args=[attachment.pk])
    assert download_url in page.content.decode()
    assert attachment.sha256 in page.content.decode()
    download = client.get(download_url)
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PNG
    assert download["Content-Disposition"].startswith("attachment;")
    record = AttachmentDownload.objects.get()
    assert (record.user, record.via) == (coordinator, "admin")


def test_a_refused_file_in_the_admin_is_said_on_the_page(client, coordinator, incident):
    client.force_login(coordinator)
    response = _change_page_post(client, incident, upload("page.html", b"<script>"))
    assert ".html files are not accepted" in response.content.decode()
    assert not Attachment.objects.exists()


def test_supersede_in_the_admin_keeps_both(client, coordinator, incident):
    from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
    from django.urls import reverse

    wrong = attach(incident, coordinator)
    client.force_login(coordinator)
    response = client.post(
        reverse("admin:incidents_attachment_changelist"),
        {
            "action": "supersede_selected",
            ACTION_CHECKBOX_NAME: [wrong.pk],
            "apply": "1",
            "reason": "Attached to the wrong incident",
        },
        follow=True,
    )
    assert response.status_code == 200
    wrong.refresh_from_db()
    assert wrong.superseded_reason == "Attached to the wrong incident"
    assert Attachment.objects.count() == 1


def test_confidential_files_are_invisible_in_the_admin(client, coordinator, confidential):
    from django.urls import reverse

    attachment = attach(confidential, confidential.incident_manager)
    services.attachment_download(
        attachment=attachment, actor=confidential.incident_manager, via="admin"
    )
    client.force_login(coordinator)
    urls = [
        reverse("admin:incidents_attachment_download", args=[attachment.pk]),
        reverse("admin:incidents_attachment_change", args=[attachment.pk]),
        reverse("admin:incidents_attachment_history", args=[attachment.pk]),
        reverse("admin:incidents_incident_change", args=[confidential.pk]),
        reverse("admin:incidents_incident_history", args=[confidential.pk]),
    ]
    for url in urls:
        assert client.get(url).status_code in (302, 404), url
    listing = client.get(reverse("admin:incidents_attachment_changelist")).content.decode()
    assert attachment.file_name not in listing
    custody = client.get(reverse("admin:incidents_attachmentdownload_changelist"))
    assert attachment.file_name not in custody.content.decode()
    assert AttachmentDownload.objects.count() == 1
    # The team sees it, with the file on the incident's history page.
    client.force_login(confidential.incident_manager)
    history = client.get(reverse("admin:incidents_incident_history", args=[confidential.pk]))
    assert "Attachment" in history.content.decode()
