"""The public report cards as JSON: the same published release, the same tables as the
pages (reports/tables.py), no login. ``?lang=es`` gives Spanish labels (English by
default, whatever the browser asks: a script's output should not depend on its locale)."""

from __future__ import annotations

from django.conf import settings
from django.utils import translation
from django.utils.cache import patch_cache_control
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from reports import published, views
from reports.cells import DISTRICT, STATE, school_scope
from reports.suppression import Code
from reports.tables import CODE_MEANINGS, Report
from studentdata.db.replica import replica_reads
from studentdata.schema import error


class ValueSerializer(serializers.Serializer):
    text = serializers.CharField(
        help_text="What the page shows: a number, a percentage, a range such as '≤5%', or "
        "a mark such as 'n<10' or '*'."
    )
    code = serializers.ChoiceField(
        choices=[code.value for code in Code], allow_null=True,
        help_text="Why the value is not exact (SN below the minimum n, SC complementary, "
        "PC percent-coded); null when it is.",
    )  # fmt: skip


class ColumnSerializer(serializers.Serializer):
    id = serializers.CharField()
    label = serializers.CharField()
    kind = serializers.ChoiceField(choices=["count", "percent"])


class RowSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="'all', 'grade:<code>' or 'group:<subgroup>'.")
    label = serializers.CharField()
    section = serializers.CharField()
    values = ValueSerializer(many=True, help_text="One per column, in the columns' order.")


class TableSerializer(serializers.Serializer):
    id = serializers.CharField()
    title = serializers.CharField()
    population = serializers.CharField(help_text="Who the table counts, and on which date.")
    columns = ColumnSerializer(many=True)
    rows = RowSerializer(many=True)


class NamedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class DistrictSerializer(NamedSerializer):
    state = serializers.CharField()


class ReleaseSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    school_year = serializers.IntegerField(help_text="The calendar year the school year ends in.")
    as_of = serializers.DateField()
    published_at = serializers.DateTimeField()
    minimum_n = serializers.IntegerField()
    width = serializers.IntegerField(help_text="The narrowest range an attacker may prove "
                                     "for a hidden small group.")  # fmt: skip


class ReportSerializer(serializers.Serializer):
    release = ReleaseSerializer()
    state = serializers.CharField(allow_null=True, help_text="USPS code of the state.")
    district = DistrictSerializer(allow_null=True, help_text="Null for a state's report card.")
    school = NamedSerializer(allow_null=True, help_text="Null unless a school's report card.")
    codes = serializers.DictField(child=serializers.CharField(), help_text="Each code's meaning.")
    not_held = serializers.ListField(
        child=serializers.CharField(), help_text="Subgroups the district's records do not hold."
    )
    not_reported = serializers.ListField(
        child=serializers.CharField(),
        help_text="Measures the report card cannot show, each with the reason.",
    )
    tables = TableSerializer(many=True)


LANGUAGE = OpenApiParameter("lang", str, enum=[code for code, _ in settings.LANGUAGES],
                            description="Language of labels (default en).")  # fmt: skip


def report_json(release: published.Published, scope: str) -> dict:
    content = release.content
    report = Report(content, scope)
    return {
        "release": {
            "id": release.id, "school_year": release.school_year, "as_of": release.as_of,
            "published_at": release.published_at, "minimum_n": release.minimum_n,
            "width": release.width,
        },
        "state": content.get("state") or content["district"].get("state") or None,
        "district": content["district"] if content["district"].get("id") else None,
        "school": content["schools"].get(scope),
        "codes": {code.value: str(CODE_MEANINGS[code]) for code in Code},
        "not_held": report.not_held(),
        "not_reported": report.not_reported(),
        "tables": [
            {
                "id": table.id, "title": table.title, "population": table.population,
                "columns": [vars(column) for column in table.columns],
                "rows": [
                    {"id": row.id, "label": row.label, "section": row.section,
                     "values": [{"text": v.text, "code": v.code} for v in row.values]}
                    for row in table.rows
                ],
            }
            for table in report.tables()
        ],
    }  # fmt: skip


class PublicReportView(APIView):
    """A published report card: no login, cacheable."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    def dispatch(self, request, *args, **kwargs):
        with replica_reads(views.PUBLIC_READS):
            return super().dispatch(request, *args, **kwargs)

    def respond(self, request: Request, release: published.Published, scope: str) -> Response:
        language = request.query_params.get("lang")
        language = language if language in views.LANGUAGES else settings.LANGUAGE_CODE
        etag = f'"{release.etag}-json-{scope}-{language}-v{views.PAGE_VERSION}"'
        if etag in request.headers.get("If-None-Match", ""):
            response = Response(status=304)
        else:
            with translation.override(language):
                response = Response(report_json(release, scope))
        response["ETag"] = etag
        patch_cache_control(response, public=True, max_age=views.MAX_AGE)
        return response


def report_responses(kind: str) -> dict:
    return {
        200: ReportSerializer,
        304: OpenApiResponse(description="Not modified since the ETag sent in If-None-Match."),
        404: error(f"No such {kind}, or no report card of it is published yet."),
    }


class SchoolReportView(PublicReportView):
    @extend_schema(
        summary="A school's published report card",
        description="The latest published release's tables for one school: enrollment, "
        "attendance and assessment results by grade and subgroup, with small groups "
        "hidden and coded. No login.",
        parameters=[LANGUAGE], responses=report_responses("school"), auth=[],
    )  # fmt: skip
    def get(self, request: Request, school_id: int) -> Response:
        return self.respond(request, views.school_release(school_id), school_scope(school_id))


class DistrictReportView(PublicReportView):
    @extend_schema(
        summary="A district's published report card",
        description="The latest published release's tables for the whole district. No login.",
        parameters=[LANGUAGE], responses=report_responses("district"), auth=[],
    )  # fmt: skip
    def get(self, request: Request, district_id: int) -> Response:
        return self.respond(request, views.district_release(district_id), DISTRICT)


class StateReportView(PublicReportView):
    @extend_schema(
        summary="A state's published report card",
        description="The latest published state release: every table summed over the "
        "state's districts, protected together with their releases. No login.",
        parameters=[LANGUAGE], responses=report_responses("state"), auth=[],
    )  # fmt: skip
    def get(self, request: Request, state: str) -> Response:
        return self.respond(request, views.state_release_or_404(state), STATE)
