"""The OneRoster roots: ``/ims/oneroster/v1p1/`` and ``/ims/oneroster/rostering/v1p2/``,
each with every read operation, and 1.2's discovery document."""

from django.urls import include, path, re_path

from records.oneroster_rest.discovery import discovery_document
from records.oneroster_rest.resources import ENDPOINTS
from records.oneroster_rest.views import OneRosterView, unknown_path

app_name = "oneroster"

DISCOVERY = "discovery/onerosterv1p2rostersservice_openapi3_v1p0.json"


def _operations(version: str) -> list:
    return [
        *(
            path(
                endpoint.route,
                OneRosterView.as_view(endpoint=endpoint),
                {"or_version": version},
                name=f"{version}-{endpoint.name}",
            )
            for endpoint in ENDPOINTS
        ),
        re_path(r"^.*$", unknown_path, name=f"{version}-unknown"),
    ]


urlpatterns = [
    path(f"ims/oneroster/rostering/v1p2/{DISCOVERY}", discovery_document, name="discovery"),
    path("ims/oneroster/v1p1/", include(_operations("v1p1"))),
    path("ims/oneroster/rostering/v1p2/", include(_operations("v1p2"))),
]
