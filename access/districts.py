"""Who manages a district: imports its rosters, and later its grants and settings."""

from __future__ import annotations

from access.viewer import Route, RouteKind, Viewer
from accounts.models import Role

# Who answers a family's requests about records (corrections 99.20, inspection 99.10):
# the district's admins everywhere, and the principal or school admin of the school.
RECORDS_OFFICER_SCHOOL_ROLES = frozenset({Role.PRINCIPAL, Role.SCHOOL_ADMIN})


def may_manage_district(viewer: Viewer) -> bool:
    """True for an active district admin; the district they manage is ``viewer.district``.

    The viewer holds only memberships active today, of an active user, in the user's
    own district: an ended role or a deactivated account manages nothing.
    """
    return viewer.district is not None and viewer.route(RouteKind.DISTRICT_ADMIN) is not None


def as_records_officer(viewer: Viewer) -> Viewer:
    """The same person reaching students only through the routes that answer families'
    requests about records: what their request queues are read through."""
    return viewer.only(records_officer_routes(viewer))


def records_officer_routes(viewer: Viewer) -> list[Route]:
    """The viewer's routes that let them decide a family's requests about records."""
    if not viewer.has_access:
        return []
    return [
        route
        for route in viewer.routes
        if route.kind == RouteKind.DISTRICT_ADMIN
        or (route.kind == RouteKind.SCHOOL_STAFF and route.label in RECORDS_OFFICER_SCHOOL_ROLES)
    ]
