from django.urls import path

from records import apis

app_name = "records"

api_urlpatterns = [
    path("students/", apis.StudentListApi.as_view(), name="student-list"),
    path("students/<str:student_id>/", apis.StudentDetailApi.as_view(), name="student-detail"),
]
