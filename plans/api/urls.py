"""API routes of the plans app."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from . import views

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("plans", views.PlanViewSet, basename="plan")
router.register("plan-versions", views.PlanVersionViewSet, basename="plan-version")
router.register(
    "plan-change-requests", views.PlanChangeRequestViewSet, basename="plan-change-request"
)
router.register("acknowledgements", views.AcknowledgementViewSet, basename="acknowledgement")

urlpatterns = [
    path(
        "me/pending-acknowledgements/",
        views.PendingAcknowledgementsView.as_view(),
        name="pending-acknowledgements",
    ),
    path("", include(router.urls)),
]
