"""How the OpenAPI schema (drf-spectacular) describes this project's own authentication."""

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ProviderTokenScheme(OpenApiAuthenticationExtension):
    """A provider's API client: an OAuth 2 client-credentials token, sent as a bearer
    token (studentdata.authentication.ProviderTokenAuthentication)."""

    target_class = "studentdata.authentication.ProviderTokenAuthentication"
    match_subclasses = True
    name = "providerClientCredentials"

    def get_security_definition(self, auto_schema):
        return {
            "type": "oauth2",
            "description": "A service provider's API client, under the district's grants.",
            "flows": {
                "clientCredentials": {
                    "tokenUrl": "/oauth/token/",
                    "scopes": settings.OAUTH2_PROVIDER["SCOPES"],
                }
            },
        }
