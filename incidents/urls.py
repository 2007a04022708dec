"""Self-service pages of the incidents app."""

from django.urls import path

from . import views

app_name = "incidents"
urlpatterns = [
    path("report/", views.report, name="report"),
    path("mine/", views.mine, name="mine"),
    path("mine/<int:pk>/", views.detail, name="detail"),
]
