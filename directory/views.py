"""The SCIM 2.0 face (RFC 7644) under /scim/v2/: bearer-token authentication, the resource
endpoints and the discovery documents, in and out as application/scim+json.

Payloads are read and written by scim2-models; every write calls one service in
directory.services with the token's service user as the actor.
"""

import json
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from pydantic import ValidationError
from scim2_models import (
    Context,
    Error,
    Group,
    ListResponse,
    NotFoundException,
    PatchOp,
    SCIMException,
    SearchRequest,
    UniquenessException,
    User,
)

from core.errors import Conflict, DomainError, NotPermitted
from core.history import acting_as
from core.parsing import JSONProblem, load_json
from directory import queries, resources, services

MEDIA_TYPE = "application/scim+json"
SCIM_PREFIX = "/scim/v2"


def scim_response(payload, status=200, location=None):
    response = HttpResponse(json.dumps(payload), status=status, content_type=MEDIA_TYPE)
    if location:
        response["Location"] = location
    return response


def error_response(status, detail, scim_type=None):
    error = Error(status=status, detail=detail, scim_type=scim_type)
    return scim_response(error.model_dump(), status=status)


def _validation_error(exc):
    first = exc.errors()[0] if exc.errors() else {}
    ctx = first.get("ctx") or {}
    where = ".".join(str(part) for part in first.get("loc", ()))
    detail = f"{where}: {first.get('msg', 'invalid')}" if where else first.get("msg", "invalid")
    return error_response(
        int(ctx.get("status", 400)), detail, ctx.get("scim_type") or "invalidValue"
    )


def _translate(exc):
    """One SCIM error body for whatever refused the request."""
    if isinstance(exc, SCIMException):
        error = exc.to_error()
        return scim_response(error.model_dump(), status=error.status)
    if isinstance(exc, ValidationError):
        return _validation_error(exc)
    if isinstance(exc, Conflict):
        return error_response(409, exc.message, UniquenessException.scim_type)
    if isinstance(exc, NotPermitted):
        return error_response(403, exc.message)
    if isinstance(exc, DomainError):
        return error_response(exc.http_status, exc.message, "invalidValue")
    if isinstance(exc, DjangoValidationError):
        return error_response(400, "; ".join(exc.messages), "invalidValue")
    if isinstance(exc, queries.UnsupportedFilter):
        return error_response(400, str(exc), "invalidFilter")
    if isinstance(exc, JSONProblem):
        return error_response(400, str(exc), "invalidSyntax")
    if isinstance(exc, UnicodeDecodeError):
        return error_response(400, "The body is not JSON.", "invalidSyntax")
    if isinstance(exc, RequestDataTooBig):
        return error_response(400, "The body is too large.", "invalidSyntax")
    raise exc


def scim_endpoint(view):
    """Authenticate the bearer token, act as its service user, answer SCIM errors."""

    @csrf_exempt
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
        token = queries.active_token(raw.strip()) if scheme.lower() == "bearer" else None
        if token is None:
            response = error_response(401, "A valid SCIM bearer token is required.")
            response["WWW-Authenticate"] = 'Bearer realm="scim"'
            return response
        services.token_touch(token=token)
        request.scim_actor = token.service_user
        request.scim_base = request.build_absolute_uri(SCIM_PREFIX)
        try:
            with acting_as(token.service_user):
                return view(request, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - translated or re-raised
            return _translate(exc)

    return wrapper


def _check_active(value):
    # pydantic's lax booleans take "no", 0 and "off"; SCIM's `active` is a JSON boolean (the
    # strings "true" / "false" pass too, as scim2-models reads them).
    if not (
        isinstance(value, bool) or (isinstance(value, str) and value.lower() in ("true", "false"))
    ):
        raise services.InvalidInput("active must be true or false.", field="active")


def _strict_active(payload):
    """Refuse an `active` that is not a boolean, in a resource or in a PATCH operation."""
    objects = [payload]
    for operation in payload.get("Operations") or []:
        if not isinstance(operation, dict):
            continue
        value = operation.get("value")
        if str(operation.get("path") or "").lower() == "active":
            _check_active(value)
        if isinstance(value, dict):
            objects.append(value)
    for item in objects:
        for key, value in item.items():
            if key.lower() == "active":
                _check_active(value)


def _body(request):
    payload = load_json(request.body.decode() or "null")
    if not isinstance(payload, dict):
        raise JSONProblem("The body is not a JSON object.")
    _strict_active(payload)
    return payload


@dataclass(frozen=True)
class Kind:
    """What the generic endpoints need to know of one resource type."""

    name: str
    model: Any
    rows: Any
    lookups: dict
    to_resource: Any
    create: Any
    replace: Any
    delete: Any


def _user_create(request, resource):
    return services.user_provision(actor=request.scim_actor, **resources.user_fields(resource))


def _user_replace(request, user, resource):
    return services.user_replace(
        actor=request.scim_actor, user=user, **resources.user_fields(resource)
    )


def _members(resource):
    ids = resources.member_ids(resource)
    people = list(queries.provisioned_users().filter(pk__in=ids or []))
    if ids is None or len(people) != len(set(ids)):
        raise services.InvalidInput("A member names nobody this service provisions.")
    return people


def _group_create(request, resource):
    return services.group_create(
        actor=request.scim_actor,
        name=resource.display_name,
        external_id=resource.external_id or "",
        members=_members(resource),
    )


def _group_replace(request, group, resource):
    return services.group_replace(
        actor=request.scim_actor,
        group=group,
        name=resource.display_name,
        external_id=resource.external_id or "",
        members=_members(resource),
    )


USERS = Kind(
    "Users",
    User,
    queries.provisioned_users,
    queries.USER_FILTERS,
    resources.user_resource,
    _user_create,
    _user_replace,
    lambda request, user: services.user_deprovision(actor=request.scim_actor, user=user),
)
GROUPS = Kind(
    "Groups",
    Group,
    queries.provisioned_groups,
    queries.GROUP_FILTERS,
    resources.group_resource,
    _group_create,
    _group_replace,
    lambda request, group: services.group_deprovision(actor=request.scim_actor, group=group),
)


def _one(kind, pk):
    found = kind.rows().filter(pk=int(pk)).first() if queries.is_id(pk) else None
    if found is None:
        raise NotFoundException(detail=f"No {kind.name[:-1]} with id {pk}.")
    return found


def _show(request, kind, instance, status=200, params=None):
    resource = kind.to_resource(kind.rows().get(pk=instance.pk), request.scim_base)
    context = (
        Context.RESOURCE_CREATION_RESPONSE if status == 201 else Context.RESOURCE_QUERY_RESPONSE
    )
    payload = resource.model_dump(scim_ctx=context, response_parameters=params)
    return scim_response(payload, status, location=resource.meta.location)


def _list(request, kind, params=None):
    if params is None:
        params = SearchRequest[kind.model].model_validate(
            request.GET.dict(), scim_ctx=Context.RESOURCE_QUERY_REQUEST
        )
    rows = kind.rows()
    if params.filter:
        rows = queries.filtered(rows, params.filter.ast, kind.lookups)
    total = rows.count()
    # Clamped before they reach the database: an OFFSET past 2**63 is an overflow, not a page.
    start = max(params.start_index or 1, 1)
    count = min(
        max(params.count if params.count is not None else resources.MAX_RESULTS, 0),
        resources.MAX_RESULTS,
    )
    page = list(rows[start - 1 : start - 1 + count]) if count and start <= total else []
    listing = ListResponse[kind.model](
        total_results=total,
        start_index=start,
        items_per_page=len(page),
        resources=[kind.to_resource(row, request.scim_base) for row in page],
    )
    return scim_response(
        listing.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE, response_parameters=params)
    )


def collection(kind):
    @scim_endpoint
    def view(request):
        if request.method == "GET":
            return _list(request, kind)
        if request.method == "POST":
            resource = kind.model.model_validate(
                _body(request), scim_ctx=Context.RESOURCE_CREATION_REQUEST
            )
            return _show(request, kind, kind.create(request, resource), status=201)
        return error_response(405, "Method not allowed.")

    return view


def search(kind):
    """POST …/.search (RFC 7644 §3.4.3): the query of a GET list, sent in the body."""

    @scim_endpoint
    def view(request):
        if request.method != "POST":
            return error_response(405, "Method not allowed.")
        params = SearchRequest[kind.model].model_validate(
            _body(request), scim_ctx=Context.SEARCH_REQUEST
        )
        return _list(request, kind, params)

    return view


def _patched(request, kind, instance):
    operations = PatchOp[kind.model].model_validate(
        _body(request), scim_ctx=Context.RESOURCE_PATCH_REQUEST
    )
    resource = kind.to_resource(instance, request.scim_base)
    operations.patch(resource)
    return resource


def detail(kind):
    @scim_endpoint
    def view(request, pk):
        instance = _one(kind, pk)
        if request.method == "GET":
            params = SearchRequest[kind.model].model_validate(
                request.GET.dict(), scim_ctx=Context.RESOURCE_QUERY_REQUEST
            )
            return _show(request, kind, instance, params=params)
        if request.method in ("PUT", "PATCH"):
            with transaction.atomic():
                if request.method == "PUT":
                    resource = kind.model.model_validate(
                        _body(request), scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST
                    )
                else:
                    resource = _patched(request, kind, instance)
                kind.replace(request, instance, resource)
            return _show(request, kind, instance)
        if request.method == "DELETE":
            kind.delete(request, instance)
            return HttpResponse(status=204)
        return error_response(405, "Method not allowed.")

    return view


def _discovery(documents, request, pk=None):
    if pk is None:
        listing = ListResponse[type(documents[0])](
            total_results=len(documents),
            start_index=1,
            items_per_page=len(documents),
            resources=documents,
        )
        return scim_response(listing.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))
    for document in documents:
        if document.id == pk:
            return scim_response(document.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))
    raise NotFoundException(detail=f"No {pk}.")


def read_only(view):
    """Discovery documents are read, never written (RFC 7644 §4): other methods are 405."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.method != "GET":
            return error_response(405, "The discovery endpoints are read-only.")
        return view(request, *args, **kwargs)

    return wrapper


@scim_endpoint
def search_everything(request):
    """POST /.search across resource types: not offered (RFC 7644 §3.4.3 lets a service say 501)."""
    return error_response(501, "Search each resource type at /Users/.search or /Groups/.search.")


@scim_endpoint
@read_only
def service_provider_config(request):
    config = resources.service_provider_config(request.scim_base)
    return scim_response(config.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))


@scim_endpoint
@read_only
def schemas(request, pk=None):
    return _discovery(resources.schemas(request.scim_base), request, pk)


@scim_endpoint
@read_only
def resource_types(request, pk=None):
    return _discovery(resources.resource_types(request.scim_base), request, pk)
