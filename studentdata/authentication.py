"""API authentication: DRF's tokens, read in one query with the reader's cache epoch.

Its own module because DRF imports the authentication classes while its views load.
"""

from __future__ import annotations

import functools
import hashlib

from django.db import connection
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from access.models import ApiClient, CacheEpoch, Provider
from access.providers import client_grants_in_force, grant_from_row, on_day
from accounts.models import User
from records import cache_epochs
from records.models import District
from records.tenancy import system_scope
from studentdata import prepared


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token check, in one query that also reads the reader's district's cache
    epoch (records/cache_epochs.py): an API request then needs no separate round trip for it."""

    def authenticate_credentials(self, key):
        with connection.cursor() as cursor:
            cursor.execute(_USER_BY_TOKEN, [key])
            row = cursor.fetchone()
        if row is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        user = User.from_db(connection.alias, _USER_COLUMNS, row[:-1])
        user.cache_epoch_value = row[-1]  # read by access.viewer.viewer_for
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return user, Token(key=key, user=user)


_USER_COLUMNS = [field.attname for field in User._meta.concrete_fields]
_USER_BY_TOKEN = f"""
    SELECT {", ".join(f'u."{field.column}"' for field in User._meta.concrete_fields)},
        epoch.value
    FROM "{Token._meta.db_table}" AS token
    JOIN "{User._meta.db_table}" AS u ON u.id = token.user_id
    LEFT JOIN "{CacheEpoch._meta.db_table}" AS epoch ON epoch.district_id = u.district_id
    WHERE token.key = %s
"""  # noqa: S608 - names from the models


class ProviderClient:
    """The principal of a provider's OAuth 2 client-credentials token: no person, one
    API client of one district, with the scopes its token was issued."""

    is_authenticated = True
    is_active = True
    is_anonymous = False
    is_superuser = False
    pk = None
    cache_epoch_value = cache_epochs.UNREAD  # the district's, when read with the token
    read_ahead = None  # students' epochs read with the token (cache_epochs.ReadAhead)

    def __init__(self, client, scopes: frozenset[str]):
        self.api_client = client
        self.district_id = client.district_id
        self.scopes = scopes

    def get_username(self) -> str:
        return f"client {self.api_client.application.client_id}"

    def __str__(self) -> str:
        return self.get_username()


class ProviderTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <token>`` from the OAuth 2 token endpoint: an unexpired
    token that django-oauth-toolkit issued (and has not revoked) to an enabled provider
    client. Read in one query with the client, its district and the district's cache
    epoch, as django-oauth-toolkit itself looks a token up (by its checksum); a token
    restricted to a resource (RFC 8707) goes through the toolkit's own check. Grants are
    decided afterwards, per request, by access/."""

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if len(header) != 2 or header[0].lower() != b"bearer":
            return None
        try:
            token = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(_("Invalid or expired token.")) from None
        client = _client_by_token(token, request.get_full_path())
        if client is not None and client.token_resource:
            client = _client_by_toolkit(request)
        if client is None or client.token_expires <= timezone.now():
            raise exceptions.AuthenticationFailed(_("Invalid or expired token."))
        if not client.is_active:
            raise exceptions.AuthenticationFailed(_("This client is disabled."))
        principal = ProviderClient(client, frozenset(client.token_scope.split()))
        principal.cache_epoch_value = client.epoch  # read by access.providers
        principal.read_ahead = getattr(client, "read_ahead", None)
        return principal, None

    def authenticate_header(self, request):
        return 'Bearer realm="oneroster"'


def _columns(model, alias: str) -> tuple[list[str], str]:
    fields = [field.attname for field in model._meta.concrete_fields]
    columns = ", ".join(f'{alias}."{field.column}"' for field in model._meta.concrete_fields)
    return fields, columns


def _provider_models():
    from oauth2_provider.models import get_access_token_model, get_application_model

    return get_access_token_model(), get_application_model()


@functools.cache
def _client_query(with_grants: bool) -> tuple[list[tuple], str, tuple]:
    """The one statement that reads a token's client, district, provider, application
    and the district's cache epoch, and (``with_grants``: PostgreSQL) the client's grants
    in force on a given day, one row each, with the epochs of students named by an array
    parameter (a read-ahead); the models in the order their columns come, and the
    grants' parameters (``on_day`` fills in the day)."""
    access_token, application = _provider_models()
    models = [(ApiClient, "c"), (District, "d"), (Provider, "p"), (application, "a")]
    parts = [(model, *_columns(model, alias)) for model, alias in models]
    selected = ", ".join(columns for _, _, columns in parts)
    grants_sql, grants_params = client_grants_in_force() if with_grants else ("", ())
    sql = f"""
        SELECT {selected}, t.expires, t.scope, t.resource, t.token_checksum, epoch.value
            {f", {cache_epochs.READ_AHEAD_SQL}, g.*" if with_grants else ""}
        FROM "{access_token._meta.db_table}" AS t
        JOIN "{ApiClient._meta.db_table}" AS c ON c.application_id = t.application_id
        JOIN "{District._meta.db_table}" AS d ON d.id = c.district_id
        JOIN "{Provider._meta.db_table}" AS p
            ON p.district_id = c.district_id AND p.id = c.provider_id
        JOIN "{application._meta.db_table}" AS a ON a.id = t.application_id
        LEFT JOIN "{CacheEpoch._meta.db_table}" AS epoch ON epoch.district_id = c.district_id
        {f"LEFT JOIN LATERAL ({grants_sql}) AS g ON TRUE" if with_grants else ""}
        WHERE t.token_checksum = %s
    """  # noqa: S608 - names from the models, the grants' SQL from the ORM
    return [(model, fields) for model, fields, _ in parts], sql, grants_params


# The zone of the district each recent token belongs to: the day its grants are read for.
_ZONES_KEPT = 10_000
_zone_of_token: dict[str, object] = {}


def _client_by_token(token: str, path: str = ""):
    """The API client holding this token, with its district, provider and application,
    annotated with the token's expiry, scopes, resource and checksum, the district's
    epoch and (PostgreSQL) its grants in force; None for an unknown token. One
    statement, as the token check runs on every request of every provider.

    The grants are read for the day the district's zone had the last time this token
    came; ``access.providers.viewer_for_client`` reads them again if that is not the
    district's day now (a token's first request, a zone changed, midnight passed)."""
    with_grants = connection.vendor == "postgresql"
    models, sql, grants_params = _client_query(with_grants)
    checksum = hashlib.sha256(token.encode("utf-8")).hexdigest()
    day = timezone.localdate(timezone.now(), _zone_of_token.get(checksum))
    ahead_key = (checksum, path)
    ahead_ids = cache_epochs.students_to_read_ahead(ahead_key)
    params = [ahead_ids, *on_day(grants_params, day), checksum] if with_grants else [checksum]
    # Whose the token is decides the district: it is read before any is in force.
    with system_scope("provider token check", every_request=True):
        rows = prepared.fetch("provider_client_by_token", sql, params)
    if not rows:
        return None
    row = rows[0]
    instances, at = [], 0
    for model, fields in models:
        instances.append(prepared.instance(model, row, at))
        at += len(fields)
    client, district, provider, application = instances
    client.district, client.provider, client.application = district, provider, application
    token_fields = _provider_models()[0]._meta
    expires, scope, resource, checksum = (
        prepared.convert(token_fields.get_field(name), row[at + i])
        for i, name in enumerate(("expires", "scope", "resource", "token_checksum"))
    )
    client.token_expires, client.token_scope = expires, scope
    client.token_resource, client.token_checksum, client.epoch = resource, checksum, row[at + 4]
    if with_grants:
        client.read_ahead = cache_epochs.read_ahead(ahead_key, district.pk, ahead_ids, row[at + 5])
        grants = [grant_from_row(each, at + 6) for each in rows]
        client.grants_in_force = (day, [grant for grant in grants if grant is not None])
        if len(_zone_of_token) >= _ZONES_KEPT:
            _zone_of_token.clear()
        _zone_of_token[checksum] = district.zone
    return client


def _client_by_toolkit(request):
    """A resource-restricted token, checked by django-oauth-toolkit (audience included)."""
    from oauth2_provider.oauth2_backends import get_oauthlib_core

    valid, oauth = get_oauthlib_core().verify_request(request._request, scopes=[])
    token = getattr(oauth, "access_token", None)
    if not valid or token is None:
        return None
    with system_scope("provider token check", every_request=True):
        client = (
            ApiClient.unscoped.select_related("district", "provider", "application")
            .filter(application_id=token.application_id)
            .annotate(
                epoch=Subquery(
                    CacheEpoch.objects.filter(district_id=OuterRef("district_id")).values("value")
                )
            )
            .first()
        )
    if client is not None:
        client.token_expires, client.token_scope = token.expires, token.scope
        client.token_resource, client.token_checksum = token.resource, token.token_checksum
    return client
