from django.urls import path

from records import apis, views

app_name = "records"

api_urlpatterns = [
    path("students/", apis.StudentListApi.as_view(), name="student-list"),
    path("students/<str:student_id>/", apis.StudentDetailApi.as_view(), name="student-detail"),
]

# Web pages, mounted at the site's root (studentdata/urls.py).
urlpatterns = [
    path("district/imports/", views.import_list, name="import-list"),
    path("district/imports/<int:run_id>/", views.import_detail, name="import-detail"),
    path("district/imports/<int:run_id>/progress/", views.import_progress, name="import-progress"),
]
