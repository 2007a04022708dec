"""`GET /api/v1/users/?search=`: the people a client may name (a manager, a team member, a recipient)."""

from rest_framework import mixins, serializers, viewsets

from core.api import AuditedViewMixin
from core.people import PERSON_SEARCH_FIELDS, people_visible_to


class PersonSerializer(serializers.Serializer):
    """A person as the API names them; `full_name` is "" for someone with no name."""

    id = serializers.IntegerField(read_only=True)
    username = serializers.CharField(read_only=True)
    full_name = serializers.CharField(source="get_full_name", read_only=True)
    email = serializers.CharField(read_only=True)


class PersonViewSet(AuditedViewMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """People by name, username or email (`?search=`, every word must match), active ones
    first by name. Coordinators, approvers, the intake and compliance see everyone (they pick
    people); anyone else sees only themselves (core.people.people_visible_to)."""

    serializer_class = PersonSerializer
    search_fields = PERSON_SEARCH_FIELDS
    ordering_fields = ("username", "last_name", "first_name")
    filterset_fields = ("is_active",)

    def get_queryset(self):
        return people_visible_to(self.request.user).only(
            "id", "username", "first_name", "last_name", "email"
        )
