from django.conf import settings
from django.contrib import admin
from django.http import HttpResponse, JsonResponse
from django.urls import include, path, re_path
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from oauth2_provider.views import TokenView
from rest_framework.permissions import AllowAny

from records.urls import api_urlpatterns as records_api
from records.urls import classes_urlpatterns, family_urlpatterns
from reports.urls import api_urlpatterns as reports_api
from reports.urls import console_urlpatterns as report_console
from reports.urls import research_urlpatterns, state_urlpatterns


def api_not_found(request, *args, **kwargs):
    """A path under /api/v1/ that names no operation (or an id of the wrong shape):
    answered in JSON like any API error, never the site's HTML page."""
    return JsonResponse({"detail": "Not found."}, status=404)


# Last: whatever the operations above did not match, ending in "/" (a path without its
# slash is still redirected to the one with it, by CommonMiddleware).
api_v1 = [*records_api, *reports_api, re_path(r"^.*/$", api_not_found)]


@never_cache
@require_safe
def healthz(request):
    """For load balancers and the benchmark: the process answers. No database, no session."""
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("healthz/", healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),  # set_language: the language switcher
    # OneRoster REST 1.1 and 1.2 for providers (all under /ims/oneroster/): early, as
    # their clients poll it most and each pattern tried before it costs every request.
    path("", include("records.oneroster_rest.urls")),
    path("", include("accounts.urls")),
    # Records pages: /district/imports/ (the district admin's roster imports).
    path("", include("records.urls")),
    # The district admin's report card releases: preview, publish, discard.
    path("district/reports/", include((report_console, "report-console"))),
    # The district console for providers (/district/...) and the provider's page (/provider/).
    path("", include("access.urls")),
    # Providers' OneRoster CSV deliveries: /provider/deliveries/, /district/deliveries/.
    path("", include("access.delivery_urls")),
    # A study's extracts and output review (the study pages themselves are access's).
    path("research/", include((research_urlpatterns, "research"))),
    # The family portal: /family/, a child's record, who has seen it.
    path("family/", include((family_urlpatterns, "family"), namespace="family")),
    # A teacher's classes: rosters, their CSV export, attendance taking.
    path("classes/", include((classes_urlpatterns, "classes"), namespace="classes")),
    path("api/v1/", include((api_v1, "api"), namespace="api")),
    # The public report cards: no login, published releases only.
    path("reports/", include("reports.urls")),
    # A state analyst's pages: the districts of a state compared, the state release.
    path("state/", include((state_urlpatterns, "state"))),
    # Providers' OAuth 2 token endpoint: client credentials (HTTP Basic), OneRoster scopes.
    path("oauth/token/", TokenView.as_view(), name="oauth-token"),
    # The API's description holds no student data, so it is readable without signing in.
    path("api/schema/", SpectacularAPIView.as_view(permission_classes=[AllowAny]), name="schema"),
    path(
        "api/docs/",
        # Its start-up script served as a file (``?script``), as the CSP asks.
        SpectacularSwaggerSplitView.as_view(
            url_name="schema",
            permission_classes=[AllowAny],
            template_name="studentdata/api_docs.html",
        ),
        name="api-docs",
    ),
]

if settings.ADMIN_ENABLED:
    urlpatterns.append(path("admin/", admin.site.urls))
