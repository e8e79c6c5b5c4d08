"""1.2's discovery document: an OpenAPI 3 description of this service's rostering
paths, parameters and objects, generated from the same endpoint table and field
whitelist the views use (so it cannot drift from them). It holds no data and is public."""

from __future__ import annotations

import re
from functools import cache

from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.http import require_safe

from records.oneroster_rest.errors import (
    FORBIDDEN,
    INTERNAL,
    INVALID_DATA,
    INVALID_FILTER_FIELD,
    INVALID_SELECTION_FIELD,
    SERVER_BUSY,
    UNAUTHORISED,
    UNKNOWN_OBJECT,
)
from records.oneroster_rest.fields import BOOL, DATE, DATETIME, RESOURCE_FIELDS, V1P2
from records.oneroster_rest.paging import DEFAULT_LIMIT, MAX_LIMIT
from records.oneroster_rest.resources import ENDPOINTS, KEYS

ROOT = "/ims/oneroster/rostering/v1p2"
PATH_PARAMETER = re.compile(r"<str:(\w+)>")
REF = {"$ref": "#/components/schemas/GUIDRef"}
TRUE_FALSE = {"type": "string", "enum": ["true", "false"]}
LISTS = {
    "grades": {"type": "array", "items": {"type": "string"}},
    "subjects": {"type": "array", "items": {"type": "string"}},
    "periods": {"type": "array", "items": {"type": "string"}},
    "terms": {"type": "array", "items": REF},
    "roles": {"type": "array", "minItems": 1, "items": {"$ref": "#/components/schemas/Role"}},
    "userIds": {"type": "array", "items": {"$ref": "#/components/schemas/UserId"}},
}
REFERENCES = {"primaryOrg", "parent", "org", "course", "school", "user", "class"}
SCHEMA_NAMES = {
    "users": "User",
    "demographics": "Demographics",
    "orgs": "Org",
    "academicSessions": "AcademicSession",
    "courses": "Course",
    "classes": "Class",
    "enrollments": "Enrollment",
}
REQUIRED = {
    "users": ["sourcedId", "status", "dateLastModified", "enabledUser", "roles"],
    "orgs": ["sourcedId", "status", "dateLastModified", "name", "type"],
    "academicSessions": [
        "sourcedId",
        "status",
        "dateLastModified",
        "title",
        "type",
        "startDate",
        "endDate",
        "schoolYear",
    ],
    "courses": ["sourcedId", "status", "dateLastModified", "title", "org"],
    "classes": ["sourcedId", "status", "dateLastModified", "title", "course", "school", "terms"],
    "enrollments": ["sourcedId", "status", "dateLastModified", "role", "user", "class", "school"],
    "demographics": ["sourcedId", "status", "dateLastModified"],
}
ERRORS = {
    "400": (
        "Malformed filter, unknown field, bad paging",
        [INVALID_FILTER_FIELD, INVALID_SELECTION_FIELD],
    ),
    "401": ("No valid bearer token", [UNAUTHORISED]),
    "403": ("Scope missing or no grant in force", [FORBIDDEN]),
    "404": ("No such object among this client's", [UNKNOWN_OBJECT]),
    "422": ("A filter value of the wrong type", [INVALID_DATA]),
    "429": ("Too many requests: see Retry-After", [SERVER_BUSY]),
    "500": ("Server error", [INTERNAL]),
}


def _field_schema(spec) -> dict:
    if spec.name in LISTS:
        return LISTS[spec.name]
    if spec.name in REFERENCES:
        return REF
    if spec.name == "orgs":
        return {"type": "array", "items": REF}
    if spec.name == "status":
        return {"type": "string", "enum": ["active", "tobedeleted"]}
    if spec.kind == BOOL:
        return TRUE_FALSE
    if spec.kind == DATETIME:
        return {"type": "string", "format": "date-time"}
    if spec.kind == DATE:
        return {"type": "string", "format": "date"}
    return {"type": "string"}


def _object_schema(resource: str) -> dict:
    properties = {
        spec.name: _field_schema(spec)
        for spec in RESOURCE_FIELDS[resource]
        if spec.output and V1P2 in spec.versions
    }
    return {"type": "object", "required": REQUIRED[resource], "properties": properties}


def _parameters(endpoint) -> list[dict]:
    names = PATH_PARAMETER.findall(endpoint.route)
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in names
    ]
    fields = {
        "name": "fields",
        "in": "query",
        "required": False,
        "description": "Comma-separated field names to return; an unknown one is 400.",
        "schema": {"type": "string"},
    }
    if endpoint.single:
        return [*parameters, fields]
    return [
        *parameters,
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "description": f"Page size; larger values are clamped to {MAX_LIMIT}.",
            "schema": {"type": "integer", "minimum": 1, "default": DEFAULT_LIMIT},
        },
        {
            "name": "offset",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 0, "default": 0},
        },
        {"name": "sort", "in": "query", "required": False, "schema": {"type": "string"}},
        {
            "name": "orderBy",
            "in": "query",
            "required": False,
            "schema": {"type": "string", "enum": ["asc", "desc"]},
        },
        {
            "name": "filter",
            "in": "query",
            "required": False,
            "description": "<field><op>'<value>', at most two clauses joined by ' AND ' or "
            "' OR '; ops = != > >= < <= ~.",
            "schema": {"type": "string"},
        },
        fields,
    ]


def _operation(endpoint) -> dict:
    schema_name = SCHEMA_NAMES[endpoint.resource]
    plural, singular = KEYS[endpoint.resource]
    item = {"$ref": f"#/components/schemas/{schema_name}"}
    if endpoint.single:
        body = {"type": "object", "required": [singular], "properties": {singular: item}}
        headers = {}
    else:
        body = {
            "type": "object",
            "required": [plural],
            "properties": {plural: {"type": "array", "items": item}},
        }
        headers = {
            "X-Total-Count": {"schema": {"type": "integer"}},
            "Link": {
                "description": "RFC 8288: first, prev, next, last",
                "schema": {"type": "string"},
            },
        }
    scopes = [settings.ONEROSTER_SCOPE_ROOTS[1] + name for name in sorted(endpoint.scopes)]
    responses = {
        "200": {
            "description": "OK",
            "headers": headers,
            "content": {"application/json": {"schema": body}},
        },
        **{
            status: {
                "description": f"{text} ({', '.join(codes)})",
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/StatusInfo"}}
                },
            }
            for status, (text, codes) in ERRORS.items()
        },
    }
    return {
        "operationId": endpoint.name.replace("-", "_"),
        "summary": endpoint.summary,
        "tags": [SCHEMA_NAMES[endpoint.resource]],
        "parameters": _parameters(endpoint),
        "security": [{"OAuth2CC": [scope]} for scope in scopes],
        "responses": responses,
    }


@cache
def document() -> dict:
    paths = {
        ROOT + "/" + PATH_PARAMETER.sub(r"{\1}", endpoint.route): {"get": _operation(endpoint)}
        for endpoint in ENDPOINTS
    }
    scopes = {
        settings.ONEROSTER_SCOPE_ROOTS[1] + name: f"OneRoster {name}"
        for name in settings.ONEROSTER_SCOPE_NAMES
    }
    schemas = {SCHEMA_NAMES[name]: _object_schema(name) for name in SCHEMA_NAMES}
    schemas.update(
        GUIDRef={
            "type": "object",
            "required": ["href", "sourcedId", "type"],
            "properties": {
                "href": {"type": "string", "format": "uri"},
                "sourcedId": {"type": "string"},
                "type": {"type": "string"},
            },
        },
        Role={
            "type": "object",
            "required": ["roleType", "role", "org"],
            "properties": {
                "roleType": {"type": "string", "enum": ["primary", "secondary"]},
                "role": {"type": "string"},
                "org": REF,
            },
        },
        UserId={
            "type": "object",
            "required": ["type", "identifier"],
            "properties": {"type": {"type": "string"}, "identifier": {"type": "string"}},
        },
        StatusInfo={
            "type": "object",
            "required": ["imsx_codeMajor", "imsx_severity"],
            "properties": {
                "imsx_codeMajor": {
                    "type": "string",
                    "enum": ["success", "processing", "failure", "unsupported"],
                },
                "imsx_severity": {"type": "string", "enum": ["status", "warning", "error"]},
                "imsx_description": {"type": "string"},
                "imsx_CodeMinor": {
                    "type": "object",
                    "properties": {
                        "imsx_codeMinorField": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "imsx_codeMinorFieldName": {"type": "string"},
                                    "imsx_codeMinorFieldValue": {"type": "string"},
                                },
                            },
                        }
                    },
                },
            },
        },
    )
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "OneRoster 1.2 Rostering Service (studentdata)",
            "version": "1.2",
            "description": "Read-only rostering for service providers, limited to each "
            "client's grants. See docs/oneroster-rest.md.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "OAuth2CC": {
                    "type": "oauth2",
                    "flows": {"clientCredentials": {"tokenUrl": "/oauth/token/", "scopes": scopes}},
                }
            },
        },
    }


@require_safe
def discovery_document(request):
    return JsonResponse(document())
