from django.utils.functional import SimpleLazyObject

from access.viewer import viewer_for
from records.tenancy import entry_scope, in_current_context, tenant_scope


class EntryScopeMiddleware:
    """First of all: a request starts with no district and no system context in force,
    whatever the thread ran before (records/tenancy.py)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with entry_scope():
            return self.get_response(request)


class ViewerMiddleware:
    """Carries the request's viewer and puts the user's district in force.

    The viewer is built at most once per request, on first use. With no signed-in
    user of a district, no district is in force and tenant queries answer no rows.
    Token-authenticated API requests are authenticated inside the view, after this
    runs; ``studentdata.api.ViewerApiView`` sets both there.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.viewer = SimpleLazyObject(lambda: viewer_for(request.user))
        user = getattr(request, "user", None)
        district_id = getattr(user, "district_id", None)
        if user is None or not user.is_authenticated or district_id is None:
            return self.get_response(request)
        with tenant_scope(district_id):
            return in_district_to_the_end(self.get_response(request))


def in_district_to_the_end(response):
    """A streamed body is produced after the view returns, when the server reads it:
    its queries must still run in the request's district (row-level security shows
    none without one)."""
    if getattr(response, "streaming", False):
        response.streaming_content = in_current_context(response.streaming_content)
    return response
