"""The students API: every read asks ``access/`` who may see whom and what."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from access.audit import reads_of_page, record_reads
from access.cached import PageDecision, page_decision, projected_students, rendered_page
from access.scoping import (
    allowed_for,
    reach_is_bounded,
    student_access_by_id,
    visible_students,
)
from records.models import GradeLevel
from studentdata.api import CountInPagePagination, ViewerApiView


class StudentListFilters(serializers.Serializer):
    school = serializers.IntegerField(required=False, min_value=1)
    section = serializers.IntegerField(required=False, min_value=1)
    grade = serializers.ChoiceField(choices=GradeLevel.choices, required=False)
    page = serializers.IntegerField(required=False, min_value=1)
    page_size = serializers.IntegerField(required=False, min_value=1)


STUDENT_OBJECT = {
    "type": "object",
    "description": "`{id, sourced_id, <category>: {...}}` with only the categories the "
    "reader may see; a category they lack is absent.",
    "properties": {"id": {"type": "integer"}, "sourced_id": {"type": "string"}},
    "additionalProperties": {"type": "object"},
}


class StudentListApi(ViewerApiView):
    @extend_schema(
        summary="Students this reader may see",
        parameters=[
            OpenApiParameter("school", OpenApiTypes.INT, description="Current members of a school"),
            OpenApiParameter(
                "section", OpenApiTypes.INT, description="Current roster of a section"
            ),
            OpenApiParameter("grade", OpenApiTypes.STR, description="Grade code, e.g. KG, 05"),
            OpenApiParameter("page", OpenApiTypes.INT),
            OpenApiParameter("page_size", OpenApiTypes.INT, description="Up to 500"),
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
            }
        },
    )
    def get(self, request):
        filters = StudentListFilters(data=request.query_params)
        filters.is_valid(raise_exception=True)
        chosen = filters.validated_data
        paginator = CountInPagePagination()
        params = (
            "students",
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
                allowed=allowed_for(self.viewer, rows),
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
        record_reads(self.viewer, reads_of_page(page.allowed))
        return response


class StudentDetailApi(ViewerApiView):
    @extend_schema(
        summary="One student, projected to what this reader may see",
        responses={200: STUDENT_OBJECT},
    )
    def get(self, request, student_id: str):
        access = student_access_by_id(self.viewer, student_id)
        [result] = projected_students(
            self.viewer,
            [access.student.pk],
            {access.student.pk: access.allowed},
            students=[access.student],
            detail=True,
        )
        record_reads(self.viewer, reads_of_page({access.student.pk: access.allowed}))
        return Response(result)
