"""The students API: every read asks ``access/`` who may see whom and what."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from access.audit import reads_of_page, record_reads
from access.projection import project_students
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
        students = visible_students(
            self.viewer,
            school_id=filters.validated_data.get("school"),
            section_id=filters.validated_data.get("section"),
            grade_level=filters.validated_data.get("grade"),
        )
        paginator = CountInPagePagination()
        page = paginator.paginate_queryset(
            students, request, view=self, count_in_page=reach_is_bounded(self.viewer)
        )
        allowed = allowed_for(self.viewer, page)
        results = project_students(self.viewer, page, allowed)
        record_reads(self.viewer, reads_of_page(allowed))
        return paginator.get_paginated_response(results)


class StudentDetailApi(ViewerApiView):
    @extend_schema(
        summary="One student, projected to what this reader may see",
        responses={200: STUDENT_OBJECT},
    )
    def get(self, request, student_id: str):
        access = student_access_by_id(self.viewer, student_id)
        [result] = project_students(
            self.viewer, [access.student], {access.student.pk: access.allowed}, detail=True
        )
        record_reads(self.viewer, reads_of_page({access.student.pk: access.allowed}))
        return Response(result)
