"""How the OpenAPI schema (drf-spectacular) describes this project's own authentication."""

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse


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


# Error answers, as DRF writes them, for the operations' ``responses``.
_DETAIL = {"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]}
_FIELD_ERRORS = {
    "type": "object",
    "description": "Each parameter that was refused, with the reasons.",
    "additionalProperties": {"type": "array", "items": {"type": "string"}},
}


def error(description: str) -> OpenApiResponse:
    """An answer of ``{"detail": "..."}``."""
    return OpenApiResponse(response=_DETAIL, description=description)


def refused_parameters(description: str = "A parameter was refused.") -> OpenApiResponse:
    """A 400 answer naming each refused parameter with its reasons."""
    return OpenApiResponse(response=_FIELD_ERRORS, description=description)


# What every operation of a signed-in reader may also answer.
SIGNED_IN_ERRORS = {
    401: error("No valid token or session."),
    403: error("Signed in, but with no access (a provider's client with no grant in force)."),
}
