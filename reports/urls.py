"""The public report cards: /reports/ (no login)."""

from django.urls import path

from reports import api, console_views, research_views, state_views, views

app_name = "reports"

urlpatterns = [
    path("", views.index, name="index"),
    path("districts/<int:district_id>/", views.district_page, name="district"),
    path("districts/<int:district_id>/report.csv", views.district_csv, name="district-csv"),
    path("districts/<int:district_id>/methodology/", views.methodology, name="methodology"),
    path("schools/<int:school_id>/", views.school_page, name="school"),
    path("schools/<int:school_id>/report.csv", views.school_csv, name="school-csv"),
    path("states/<str:state>/", views.state_page, name="state"),
    path("states/<str:state>/report.csv", views.state_csv, name="state-csv"),
]

# Under /api/v1/ (studentdata/urls.py): the same published releases as JSON.
api_urlpatterns = [
    path(
        "public/schools/<int:school_id>/report/",
        api.SchoolReportView.as_view(),
        name="public-school-report",
    ),
    path(
        "public/districts/<int:district_id>/report/",
        api.DistrictReportView.as_view(),
        name="public-district-report",
    ),
    path(
        "public/states/<str:state>/report/",
        api.StateReportView.as_view(),
        name="public-state-report",
    ),
]

# Under /district/reports/ (studentdata/urls.py): the district admin's releases.
console_urlpatterns = [
    path("", console_views.release_list, name="list"),
    path("settings/", console_views.protection_settings, name="settings"),
    path("<int:release_id>/", console_views.release_detail, name="detail"),
    path("<int:release_id>/publish/", console_views.release_publish, name="publish"),
    path("<int:release_id>/discard/", console_views.release_discard, name="discard"),
]

# Under /state/ (studentdata/urls.py): a state analyst's pages.
state_urlpatterns = [
    path("", state_views.state_home, name="home"),
    path("<str:state>/", state_views.state_detail, name="detail"),
]


# A study's extracts and output review, under /research/ (namespace ``research``).
research_urlpatterns = [
    path("<int:study_id>/extracts/", research_views.extract_request, name="extract-request"),
    path("extracts/<int:extract_id>/", research_views.extract_page, name="extract"),
    path(
        "extracts/<int:extract_id>/download/<str:token>/",
        research_views.extract_download,
        name="extract-download",
    ),
    path("<int:study_id>/outputs/", research_views.output_list, name="outputs"),
    path("<int:study_id>/outputs/<int:output_id>/", research_views.output_page, name="output"),
    path(
        "<int:study_id>/outputs/<int:output_id>/decide/",
        research_views.output_decide,
        name="output-decide",
    ),
]
