"""The students API: every read asks ``access/`` who may see whom and what."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from access import purposes
from access.cache import PageDecision, page_decision, projected_students, rendered_page
from access.providers import record_page_reads
from access.scoping import (
    allowed_for,
    reach_is_bounded,
    student_access_by_id,
    visible_students,
)
from records.models import GradeLevel
from studentdata.api import CountInPagePagination, ViewerApiView
from studentdata.schema import SIGNED_IN_ERRORS, error, refused_parameters

# How a provider's read of this API is named in its disclosures.
API_CHANNEL = "studentdata API"
WITHHELD_CATEGORIES = "Withheld-Categories"
WITHHELD_REASON = "Withheld-Reason"


class PurposeParameters(serializers.Serializer):
    """Why the caller reads: the staff pages' vocabulary (access/purposes.py)."""

    purpose = serializers.ChoiceField(choices=purposes.PURPOSE_CHOICES, required=False)
    purpose_detail = serializers.CharField(
        required=False, allow_blank=True, max_length=purposes.DETAIL_MAX
    )

    def to_internal_value(self, data):
        # A parameter given empty (``?grade=``) is refused, not read as left out: what a
        # client sends is what the schema says it may.
        blank = [name for name in self.fields if name != "purpose_detail" and data.get(name) == ""]
        if blank:
            raise serializers.ValidationError(
                {name: ["Give a value, or leave the parameter out."] for name in blank}
            )
        return super().to_internal_value(data)

    def validate(self, data):
        if "purpose" in data:
            try:
                data["declared"] = purposes.purpose_from(
                    data["purpose"], data.get("purpose_detail", "")
                )
            except DjangoValidationError as refused:
                field = {"detail": "purpose_detail"}
                raise serializers.ValidationError(
                    {field.get(k, k): v for k, v in refused.message_dict.items()}
                ) from None
        elif data.get("purpose_detail"):
            raise serializers.ValidationError(
                {"purpose_detail": ["Give a purpose with purpose_detail."]}
            )
        return data


class StudentListFilters(PurposeParameters):
    school = serializers.IntegerField(required=False, min_value=1)
    section = serializers.IntegerField(required=False, min_value=1)
    grade = serializers.ChoiceField(choices=GradeLevel.choices, required=False)
    page = serializers.IntegerField(required=False, min_value=1)
    page_size = serializers.IntegerField(required=False, min_value=1)


POSITIVE = {"type": "integer", "minimum": 1}
PURPOSE_PARAMETERS = [
    OpenApiParameter(
        "purpose",
        OpenApiTypes.STR,
        enum=[key for key, _label in purposes.PURPOSE_CHOICES],
        description="Why you read: opens the sensitive categories (programs, health, "
        "discipline) that staff roles see only for a declared purpose. Recorded in the "
        "access log.",
    ),
    OpenApiParameter(
        "purpose_detail",
        OpenApiTypes.STR,
        description="A few words; required with purpose=other (up to 200 characters).",
    ),
]
WITHHELD_HEADERS = [
    OpenApiParameter(
        WITHHELD_CATEGORIES,
        OpenApiTypes.STR,
        location=OpenApiParameter.HEADER,
        response=True,
        description="Categories left out of this answer for want of a purpose "
        "(comma-separated); absent when nothing was withheld.",
    ),
    OpenApiParameter(
        WITHHELD_REASON,
        OpenApiTypes.STR,
        location=OpenApiParameter.HEADER,
        response=True,
        description="Why they were left out, and how to ask for them.",
    ),
]


def _withheld(response, allowed_by_id) -> None:
    """Say which categories the access decision held back for want of a purpose."""
    withheld = sorted(frozenset().union(*(a.withheld for a in allowed_by_id.values())))
    if withheld:
        response[WITHHELD_CATEGORIES] = ", ".join(withheld)
        response[WITHHELD_REASON] = (
            "Sensitive categories open to staff only for a declared purpose: "
            "repeat the request with ?purpose= one of "
            + ", ".join(key for key, _label in purposes.PURPOSE_CHOICES)
            + " (purpose=other needs purpose_detail)."
        )


def _log_purpose(declared) -> str:
    return declared.log_text if declared is not None else ""


STUDENT_OBJECT = {
    "type": "object",
    "description": "`{id, sourced_id, <category>: {...}}` with only the categories the "
    "reader may see; a category they lack is absent.",
    "properties": {"id": {"type": "integer"}, "sourced_id": {"type": "string"}},
    "additionalProperties": {"type": "object"},
}


class StudentListApi(ViewerApiView):
    @extend_schema(
        operation_id="v1_students_list",
        summary="Students this reader may see",
        parameters=[
            OpenApiParameter("school", POSITIVE, description="Current members of a school"),
            OpenApiParameter("section", POSITIVE, description="Current roster of a section"),
            OpenApiParameter(
                "grade",
                OpenApiTypes.STR,
                enum=[code for code, _label in GradeLevel.choices],
                description="Grade code, e.g. KG, 05",
            ),
            OpenApiParameter("page", POSITIVE),
            OpenApiParameter(
                "page_size",
                POSITIVE,
                description="Students a page (50 if unset); a size over 500 is served as 500.",
            ),
            *PURPOSE_PARAMETERS,
            *WITHHELD_HEADERS,
        ],
        responses={
            200: {
                "type": "object",
                "properties": {
                    "count": {"type": "integer"},
                    "next": {"type": "string", "nullable": True},
                    "previous": {"type": "string", "nullable": True},
                    "results": {"type": "array", "items": STUDENT_OBJECT},
                },
            },
            400: refused_parameters(),
            404: error("A page past the last."),
            **SIGNED_IN_ERRORS,
        },
    )
    def get(self, request):
        filters = StudentListFilters(data=request.query_params)
        filters.is_valid(raise_exception=True)
        chosen = filters.validated_data
        declared = chosen.get("declared")
        paginator = CountInPagePagination()
        params = (
            "students",
            declared,
            chosen.get("school"),
            chosen.get("section"),
            chosen.get("grade"),
            request.query_params.get(paginator.page_query_param, "1"),
            paginator.get_page_size(request),
        )

        def decide() -> PageDecision:  # on a miss: decide access as for any read
            students = visible_students(
                self.viewer,
                school_id=chosen.get("school"),
                section_id=chosen.get("section"),
                grade_level=chosen.get("grade"),
            )
            rows = paginator.paginate_queryset(
                students, request, view=self, count_in_page=reach_is_bounded(self.viewer)
            )
            loaded.extend(rows)  # the projection need not load them again
            return PageDecision(
                student_ids=tuple(student.pk for student in rows),
                allowed=allowed_for(self.viewer, rows, purpose=declared),
                count=paginator.page.paginator.count,
                number=paginator.page.number,
            )

        loaded = []
        page = page_decision(self.viewer, params, decide)
        paginator.restore(request, list(page.student_ids), number=page.number, count=page.count)
        if isinstance(request.accepted_renderer, JSONRenderer):
            # Rendered once and kept while no student on the page changed.
            render = request.accepted_renderer.render
            results = rendered_page(self.viewer, page, render, students=loaded)
            response = paginator.get_paginated_json(results)
        else:
            results = projected_students(
                self.viewer, page.student_ids, page.allowed, students=loaded
            )
            response = paginator.get_paginated_response(results)
        record_page_reads(
            self.viewer, page.allowed, purpose=_log_purpose(declared), channel=API_CHANNEL
        )
        _withheld(response, page.allowed)
        return response


class StudentDetailApi(ViewerApiView):
    @extend_schema(
        summary="One student, projected to what this reader may see",
        parameters=[*PURPOSE_PARAMETERS, *WITHHELD_HEADERS],
        responses={
            200: STUDENT_OBJECT,
            400: refused_parameters(),
            404: error("No such student among those this reader may see."),
            **SIGNED_IN_ERRORS,
        },
    )
    def get(self, request, student_id: str):
        chosen = PurposeParameters(data=request.query_params)
        chosen.is_valid(raise_exception=True)
        declared = chosen.validated_data.get("declared")
        access = student_access_by_id(self.viewer, student_id, purpose=declared)
        [result] = projected_students(
            self.viewer,
            [access.student.pk],
            {access.student.pk: access.allowed},
            students=[access.student],
            detail=True,
        )
        allowed = {access.student.pk: access.allowed}
        record_page_reads(self.viewer, allowed, purpose=_log_purpose(declared), channel=API_CHANNEL)
        response = Response(result)
        _withheld(response, allowed)
        return response
