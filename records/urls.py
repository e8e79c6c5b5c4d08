from django.urls import path

from records import apis
from records.views import family, imports

app_name = "records"

api_urlpatterns = [
    path("students/", apis.StudentListApi.as_view(), name="student-list"),
    path("students/<str:student_id>/", apis.StudentDetailApi.as_view(), name="student-detail"),
]

# Web pages, mounted at the site's root (studentdata/urls.py).
urlpatterns = [
    path("district/imports/", imports.import_list, name="import-list"),
    path("district/imports/<int:run_id>/", imports.import_detail, name="import-detail"),
    path(
        "district/imports/<int:run_id>/progress/", imports.import_progress, name="import-progress"
    ),
]

# The family portal, mounted at /family/ under the namespace "family". Only the
# child's opaque record id appears in a URL, never a name.
family_urlpatterns = [
    path("", family.family_home, name="home"),
    path("<int:student_id>/", family.child_record, name="child"),
    path("<int:student_id>/access/", family.child_access, name="access"),
]
