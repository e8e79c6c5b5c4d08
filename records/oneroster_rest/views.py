"""The OneRoster REST views: one view class serves every read operation of both
versions, described by an ``Endpoint`` (resources.py).

Order of checks: the bearer token (401), the token's scopes for this version root
(403), the client's rate (429), then the grants in force today (403 when none). Every
set comes from ``ProviderScope``; a page's students are recorded as one disclosure per
group of students (``record_provider_reads``), never one write per student.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.http import HttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe
from rest_framework import exceptions
from rest_framework.permissions import BasePermission
from rest_framework.throttling import SimpleRateThrottle

from access.categories import Category
from access.providers import ProviderScope, record_provider_reads
from records.oneroster_rest import errors, objects, paging, query
from records.oneroster_rest.fields import RESOURCE_FIELDS, Context, available
from records.oneroster_rest.grammar import parse_fields
from records.oneroster_rest.resources import Endpoint
from studentdata.api import ViewerApiView
from studentdata.authentication import ProviderClient, ProviderTokenAuthentication

CHANNEL = "OneRoster REST"
NO_GRANT = (
    "This client has no grant in force today (revoked, not started, ended, or the client "
    "or provider disabled)."
)
VERSION_SCOPE_ROOTS = dict(zip(("v1p1", "v1p2"), settings.ONEROSTER_SCOPE_ROOTS, strict=True))


class OneRosterTokenAuthentication(ProviderTokenAuthentication):
    """The provider token check; a valid token of a client the district disabled is a
    client without a grant in force (403), not an unknown caller (401)."""

    def authenticate(self, request):
        try:
            return super().authenticate(request)
        except exceptions.AuthenticationFailed as failure:
            if str(failure.detail) == str(_("This client is disabled.")):
                raise errors.forbidden(NO_GRANT) from None
            raise


class HasOneRosterScope(BasePermission):
    """A provider client whose token holds, under this version's scope root, one of the
    scopes the operation needs."""

    def has_permission(self, request, view) -> bool:
        if not isinstance(request.user, ProviderClient):
            raise exceptions.NotAuthenticated()
        root = VERSION_SCOPE_ROOTS[view.kwargs["or_version"]]
        if not any(root + name in request.user.scopes for name in view.endpoint.scopes):
            names = " or ".join(root + name for name in sorted(view.endpoint.scopes))
            raise exceptions.PermissionDenied(f"This operation needs the scope {names}.")
        return True


class ClientRateThrottle(SimpleRateThrottle):
    """``PROVIDER_RATE_PER_MINUTE`` requests a minute per API client (the cache holds the
    history, so every web process counts together)."""

    scope = "oneroster"

    def get_rate(self) -> str:
        return f"{settings.PROVIDER_RATE_PER_MINUTE}/min"

    def get_cache_key(self, request, view) -> str | None:
        if not isinstance(request.user, ProviderClient):
            return None
        return f"throttle_oneroster_{request.user.api_client.pk}"


class OneRosterView(ViewerApiView):
    authentication_classes = [OneRosterTokenAuthentication]
    permission_classes = [HasOneRosterScope]
    throttle_classes = [ClientRateThrottle]
    schema = None  # described by 1.2's discovery document, not the app's /api/schema/
    endpoint: Endpoint = None  # set by as_view(endpoint=...)

    def get_exception_handler(self):
        return errors.exception_handler

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if not self.viewer.has_access:
            raise errors.forbidden(NO_GRANT)

    def get(self, request, *args, **kwargs):
        version = kwargs["or_version"]
        scope = ProviderScope(self.viewer)
        ctx = Context(scope=scope, version=version)
        endpoint = self.endpoint
        if endpoint.resource == "demographics" and "demographics" not in scope.categories:
            raise errors.forbidden("No grant of this client opens demographics.")
        plan = endpoint.plan(ctx, kwargs)
        names = available(endpoint.resource, endpoint.kinds, ctx)
        selected = self._selected(request, names)
        builder = objects.Builder(ctx, request, demographics=endpoint.resource == "demographics")
        collection_key, single_key = endpoint.keys
        if endpoint.single:
            found = query.lookup_one(ctx, plan.sources, names, kwargs["sourced_id"])
            if found is None:
                raise errors.unknown_object()
            built = builder.build([found])
            if not built:
                raise errors.unknown_object()
            self._record(builder, selected)
            return _json({single_key: _only(built[0], selected)})
        narrowing = query.check_filter(request.GET.get("filter"), names)
        sort = query.check_sort(request.GET, names, version)
        page = paging.parse_paging(request.GET)
        total = query.total(ctx, plan.sources, narrowing)
        rows = query.keys(ctx, plan.sources, names, narrowing, sort)
        keys = [(kind, pk) for _, _, kind, pk in rows[page.offset : page.offset + page.limit]]
        built = builder.build(keys)
        if plan.student_id is not None and built:
            self._disclose_enrollment(scope, plan.student_id, builder)
        self._record(builder, selected)
        response = _json({collection_key: [_only(obj, selected) for obj in built]})
        response["X-Total-Count"] = str(total)
        response["Link"] = paging.link_header(request, page, total)
        return response

    @staticmethod
    def _selected(request, names) -> list[str] | None:
        raw = request.GET.get("fields")
        if raw is None:
            return None
        selected = parse_fields(raw)
        for name in selected:
            spec = names.get(name)
            if spec is None or not spec.output:
                raise errors.bad_selection(f"Unknown field {name!r} in the fields parameter.")
        return selected

    def _record(self, builder: objects.Builder, selected: list[str] | None) -> None:
        """The page's students, with the categories the response carries of them."""
        allowed = builder.allowed
        if selected is not None:
            carried = _categories_of(self.endpoint.resource, selected)
            allowed = {pk: decision.narrowed(carried) for pk, decision in allowed.items()}
        if allowed:
            record_provider_reads(self.viewer, allowed, channel=CHANNEL)

    @staticmethod
    def _disclose_enrollment(scope: ProviderScope, student_id: int, builder) -> None:
        students = scope.students().filter(pk=student_id)
        only = frozenset({Category.ENROLLMENT})
        for pk, decision in scope.allowed(students).items():
            builder.allowed[pk] = decision.narrowed(only)


def _categories_of(resource: str, selected: list[str]) -> frozenset[str]:
    """The student data categories objects of ``resource`` carry with only ``selected``."""
    if resource == "enrollments":
        return frozenset({Category.ENROLLMENT}) if "user" in selected else frozenset()
    if resource not in {"users", "demographics"}:
        return frozenset(Category.values)  # a student's classes: the list itself
    categories = {
        spec.category
        for spec in RESOURCE_FIELDS[resource]
        if spec.name in selected and spec.category is not None
    }
    if {"orgs", "roles", "primaryOrg"} & set(selected):
        categories.add(Category.DIRECTORY)  # the student's schools
    return frozenset(categories)


def _only(obj: dict, selected: list[str] | None) -> dict:
    if selected is None:
        return obj
    return {name: obj[name] for name in selected if name in obj}


def _json(body: dict) -> HttpResponse:
    return HttpResponse(json.dumps(body, separators=(",", ":")), content_type="application/json")


@require_safe
def unknown_path(request, *args, **kwargs):
    """A path below a OneRoster root that names no operation."""
    return errors.error_response(errors.unknown_object())
