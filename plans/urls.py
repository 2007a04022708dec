"""Self-service pages of the plans app."""

from django.urls import path

from . import views

app_name = "plans"
urlpatterns = [
    path("", views.pending, name="pending"),
    path("versions/<int:pk>/", views.version, name="version"),
    path("versions/<int:pk>/acknowledge/", views.acknowledge, name="acknowledge"),
    path("acknowledgements/", views.my_acknowledgements, name="my-acknowledgements"),
    path("acknowledgements/<int:pk>/", views.receipt, name="receipt"),
]
