"""API routes of the training app."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from . import views

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("training/courses", views.CourseViewSet, basename="training-course")
router.register("training/sessions", views.SessionViewSet, basename="training-session")
router.register("training/records", views.RecordViewSet, basename="training-record")
router.register("training/evaluations", views.EvaluationViewSet, basename="training-evaluation")

urlpatterns = [
    path("training/compliance/", views.ComplianceView.as_view(), name="training-compliance"),
    path("", include(router.urls)),
]
