"""API routes of the incidents app."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from . import attachments, views

router = DefaultRouter()
router.include_root_view = False
router.register("incidents", views.IncidentViewSet, basename="incident")
router.register("actions", views.ActionViewSet, basename="action")
router.register("categories", views.CategoryViewSet, basename="category")
router.register("escalations", views.EscalationViewSet, basename="escalation")
router.register("attachments", attachments.AttachmentViewSet, basename="attachment")

urlpatterns = [
    path("metrics/incidents/", views.MetricsView.as_view(), name="incident-metrics"),
    *router.urls,
]
