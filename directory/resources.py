"""Django rows as SCIM resources and back, through scim2-models (RFC 7643), and the discovery documents."""

from scim2_models import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    Email,
    ETag,
    Filter,
    Group,
    GroupMember,
    GroupMembership,
    Meta,
    Name,
    Patch,
    ResourceType,
    ServiceProviderConfig,
    Sort,
    User,
)

from directory.queries import is_id

MAX_RESULTS = 100


def _location(base, kind, pk):
    return f"{base}/{kind}/{pk}"


def user_resource(user, base):
    """The SCIM User for a Django user (its groups: the manageable ones, prefetched)."""
    link = getattr(user, "provisioned", None)
    full_name = f"{user.first_name} {user.last_name}".strip()
    return User(
        id=str(user.pk),
        external_id=(link.external_id or None) if link else None,
        user_name=user.username,
        display_name=(link.display_name or None) if link else (full_name or None),
        name=Name(given_name=user.first_name or None, family_name=user.last_name or None)
        if full_name
        else None,
        emails=_emails(user, link),
        active=user.is_active,
        groups=[
            GroupMembership(
                value=str(group.pk), display=group.name, ref=_location(base, "Groups", group.pk)
            )
            for group in user.groups.all()
        ]
        or None,
        meta=Meta(
            resource_type="User",
            created=link.created_at if link else user.date_joined,
            last_modified=link.created_at if link else user.date_joined,
            location=_location(base, "Users", user.pk),
        ),
    )


def _emails(user, link):
    # As the directory sent them, unless the address was changed here since.
    kept = link.emails if link else []
    if kept and any(entry["value"] == user.email for entry in kept):
        return [Email(value=entry["value"], primary=entry.get("primary")) for entry in kept]
    return [Email(value=user.email, primary=True)] if user.email else None


def user_fields(resource):
    """The service arguments a SCIM User carries."""
    name = resource.name
    primary = next((email for email in resource.emails or [] if email.primary), None)
    email = primary or next(iter(resource.emails or []), None)
    return {
        "username": resource.user_name,
        "first_name": (name.given_name if name else None) or "",
        "last_name": (name.family_name if name else None) or "",
        "email": str(email.value) if email and email.value else "",
        "is_active": True if resource.active is None else bool(resource.active),
        "external_id": resource.external_id or "",
        "display_name": resource.display_name or "",
        "emails": [
            {"value": str(entry.value), "primary": entry.primary}
            for entry in resource.emails or []
            if entry.value
        ],
    }


def group_resource(group, base):
    """The SCIM Group for a Django group (its members prefetched as SCIM sees them)."""
    link = getattr(group, "provisioned", None)
    created = link.created_at if link else None
    return Group(
        id=str(group.pk),
        external_id=(link.external_id or None) if link else None,
        display_name=group.name,
        members=[
            GroupMember(value=str(user.pk), type="User", ref=_location(base, "Users", user.pk))
            for user in group.user_set.all()
        ]
        or None,
        meta=Meta(
            resource_type="Group",
            created=created,
            last_modified=created,
            location=_location(base, "Groups", group.pk),
        ),
    )


def member_ids(resource):
    """The ids of the people a SCIM Group names (values that are not ids name nobody)."""
    ids = []
    for member in resource.members or []:
        value = str(member.value or "")
        if not is_id(value):
            return None
        ids.append(int(value))
    return ids


def service_provider_config(base):
    return ServiceProviderConfig(
        documentation_uri=None,
        patch=Patch(supported=True),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=MAX_RESULTS),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=False),
        etag=ETag(supported=False),
        authentication_schemes=[
            AuthenticationScheme(
                type="oauthbearertoken",
                name="Bearer token",
                description="A token from `manage.py scim_token create --name NAME`.",
                primary=True,
            )
        ],
        meta=Meta(resource_type="ServiceProviderConfig", location=f"{base}/ServiceProviderConfig"),
    )


def resource_types(base):
    types = []
    for model in (User, Group):
        resource_type = ResourceType.from_resource(model)
        resource_type.meta = Meta(
            resource_type="ResourceType", location=f"{base}/ResourceTypes/{resource_type.id}"
        )
        types.append(resource_type)
    return types


# What a User holds here (RFC 7643 §4.1): the rest of the core schema has no column, so it is
# not published, and a client that reads /Schemas (as scim2-tester does) does not send it.
USER_ATTRIBUTES = {
    "userName": None,
    "name": {"givenName", "familyName"},
    "displayName": None,
    "active": None,
    "emails": {"value", "primary"},
    "groups": {"value", "$ref", "display", "type"},
}
# RFC 7643 §8.7.1: a member is value, $ref and type.
GROUP_ATTRIBUTES = {"displayName": None, "members": {"value", "$ref", "type"}}


def _published(schema, kept):
    attributes = []
    for attribute in schema.attributes:
        if attribute.name not in kept:
            continue
        if kept[attribute.name] is not None and attribute.sub_attributes:
            attribute.sub_attributes = [
                sub for sub in attribute.sub_attributes if sub.name in kept[attribute.name]
            ]
        attributes.append(attribute)
    schema.attributes = attributes
    return schema


def schemas(base):
    documents = []
    for model in (User, Group):
        schema = model.to_schema()
        schema = _published(schema, USER_ATTRIBUTES if model is User else GROUP_ATTRIBUTES)
        schema.meta = Meta(resource_type="Schema", location=f"{base}/Schemas/{schema.id}")
        documents.append(schema)
    return documents
