from django.urls import path

from records import apis
from records.views import (
    amendments,
    classes,
    emergency,
    family,
    family_requests,
    imports,
    inspections,
    school,
    staff,
)

app_name = "records"

api_urlpatterns = [
    path("students/", apis.StudentListApi.as_view(), name="student-list"),
    path("students/<str:student_id>/", apis.StudentDetailApi.as_view(), name="student-detail"),
]

# Web pages, mounted at the site's root (studentdata/urls.py).
urlpatterns = [
    # Staff: a school official's students, and any staff member's view of one student.
    path("school/", staff.school_students, name="school"),
    path("school/sections/", school.section_list, name="school-sections"),
    path("school/sections/<int:section_id>/", school.section_detail, name="school-section"),
    path(
        "school/sections/<int:section_id>/substitutes/",
        school.substitute_assign,
        name="school-substitutes",
    ),
    path(
        "school/sections/<int:section_id>/substitutes/<int:assignment_id>/end/",
        school.substitute_end,
        name="school-substitute-end",
    ),
    path("school/staff/", school.staff_list, name="school-staff"),
    path("students/<int:student_id>/", staff.student_record, name="student"),
    path("students/<int:student_id>/readers/", staff.student_readers, name="student-readers"),
    # Break-glass: a staff member's emergency access, and its review queue.
    path("emergency/", emergency.request_emergency, name="emergency"),
    path("district/reviews/", emergency.review_queue, name="reviews"),
    path("district/reviews/<int:grant_id>/", emergency.mark_reviewed, name="review"),
    path("district/imports/", imports.import_list, name="import-list"),
    path("district/imports/<int:run_id>/", imports.import_detail, name="import-detail"),
    path(
        "district/imports/<int:run_id>/progress/", imports.import_progress, name="import-progress"
    ),
    path("district/inspections/", inspections.inspection_list, name="inspection-list"),
    path(
        "district/inspections/<int:request_id>/",
        inspections.inspection_detail,
        name="inspection-detail",
    ),
    path("district/amendments/", amendments.amendment_list, name="amendment-list"),
    path(
        "district/amendments/<int:amendment_id>/",
        amendments.amendment_detail,
        name="amendment-detail",
    ),
]

# The family portal, mounted at /family/ under the namespace "family". Only the
# child's opaque record id appears in a URL, never a name.
family_urlpatterns = [
    path("", family.family_home, name="home"),
    path("<int:student_id>/", family.child_record, name="child"),
    path("<int:student_id>/access/", family.child_access, name="access"),
    path("<int:student_id>/directory/", family_requests.directory_choices, name="directory"),
    path("<int:student_id>/inspection/", family_requests.inspection_requests, name="inspection"),
    path("<int:student_id>/corrections/", amendments.corrections, name="corrections"),
    path("<int:student_id>/corrections/new/", amendments.correction_new, name="correction-new"),
    path(
        "<int:student_id>/corrections/<int:amendment_id>/statement/",
        amendments.correction_statement,
        name="correction-statement",
    ),
]

# A teacher's classes, mounted at /classes/ under the namespace "classes". Only the
# section's opaque id appears in a URL.
classes_urlpatterns = [
    path("", classes.class_list, name="list"),
    path("<int:section_id>/", classes.class_roster, name="roster"),
    path("<int:section_id>/attendance/", classes.take_attendance, name="attendance"),
]
