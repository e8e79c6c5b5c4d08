"""The OneRoster REST views: one view class serves every read operation of both
versions, described by an ``Endpoint`` (resources.py).

Order of checks: the bearer token (401), the token's scopes for this version root
(403), the client's rate (429), then the grants in force today (403 when none). Every
set comes from ``ProviderScope``. Every answer that names students — a collection, one
object, a nested list — records them the same way: the categories the objects as sent
carry of each, and what the list itself tells (``objects.Builder``), as one disclosure
per group of students (``record_provider_reads``, ``record_provider_groups``), never
one write per student.
"""

from __future__ import annotations

import functools
import json

from django.conf import settings
from django.http import HttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe
from rest_framework import exceptions
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import BasePermission
from rest_framework.renderers import JSONRenderer

from access.categories import Category
from access.providers import ProviderScope, record_provider_groups, record_provider_reads
from records.oneroster_rest import errors, objects, paging, positions, query
from records.oneroster_rest.fields import Context, available
from records.oneroster_rest.grammar import control_character_at, parse_fields
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


class JsonOnly(BaseContentNegotiation):
    """OneRoster answers JSON whatever the client's ``Accept`` says (the binding has no
    other representation), so there is nothing to negotiate: DRF's default parses the
    header on every request of every poll."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class OneRosterView(ViewerApiView):
    authentication_classes = [OneRosterTokenAuthentication]
    permission_classes = [HasOneRosterScope]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JsonOnly
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
        _check_path_ids(kwargs)
        # Planned when first needed: a page kept whole (positions.py) needs no plan.
        plan = functools.cache(lambda: endpoint.plan(ctx, kwargs))
        names = available(endpoint.resource, endpoint.kinds, ctx)
        selected = self._selected(request, names)

        def builder() -> objects.Builder:
            return objects.Builder(
                ctx,
                request,
                demographics=endpoint.resource == "demographics",
                selected=selected,
                discloses=plan().discloses,
            )

        collection_key, single_key = endpoint.keys
        if endpoint.single:
            found = query.lookup_one(ctx, plan().sources, names, kwargs["sourced_id"])
            if found is None:
                raise errors.unknown_object()
            single = builder()
            built = single.build([found])
            if not built:
                raise errors.unknown_object()
            self._record(single)
            return _json({single_key: built[0]})
        narrowing = query.check_filter(request.GET.get("filter"), names)
        sort = query.check_sort(request.GET, names, version)
        page = paging.parse_paging(request.GET)
        kept = positions.positions_for(ctx, request.path, narrowing)
        total = positions.total(ctx, plan, narrowing, kept)

        def answer(keys) -> positions.Answer:
            made = builder()
            built = made.build(keys)
            if plan().student_id is not None and built:
                # A student's classes, whatever fields they carry, tell their enrollment.
                made.carry(plan().student_id, frozenset({Category.ENROLLMENT}))
            return positions.Answer.of(_body({collection_key: built}), made.disclosed())

        sent = positions.kept_answer(
            ctx,
            kept,
            sort,
            page,
            (selected, request.build_absolute_uri("/")),
            lambda: positions.page(ctx, plan().sources, names, narrowing, sort, page, kept),
            answer,
            ahead=request.user.read_ahead,
        )
        if sent.groups:
            record_provider_groups(self.viewer, sent.groups, channel=CHANNEL)
        response = HttpResponse(sent.body, content_type="application/json")
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

    def _record(self, builder: objects.Builder) -> None:
        """The students the answer told something of, with what it told of each."""
        disclosed = builder.disclosed()
        if disclosed:
            record_provider_reads(self.viewer, disclosed, channel=CHANNEL)


def _check_path_ids(kwargs: dict) -> None:
    """A sourcedId in the path holding a control character names no object (and
    PostgreSQL refuses NUL in text): it answers as one that does not exist."""
    for name, value in kwargs.items():
        if name != "or_version" and control_character_at(value) is not None:
            raise errors.unknown_object()


def _body(body: dict) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def _json(body: dict) -> HttpResponse:
    return HttpResponse(_body(body), content_type="application/json")


@require_safe
def unknown_path(request, *args, **kwargs):
    """A path below a OneRoster root that names no operation."""
    return errors.error_response(errors.unknown_object())
