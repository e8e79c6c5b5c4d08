"""Who manages a district: imports its rosters, and later its grants and settings."""

from __future__ import annotations

from access.viewer import Viewer


def may_manage_district(viewer: Viewer) -> bool:
    """True for an active district admin; the district they manage is ``viewer.district``.

    The viewer holds only memberships active today, of an active user, in the user's
    own district: an ended role or a deactivated account manages nothing.
    """
    return viewer.district is not None and viewer.route("district_admin") is not None
