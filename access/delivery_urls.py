"""OneRoster CSV deliveries: the provider's pages under /provider/deliveries/, the
district admin's list under /district/deliveries/ (included once, at the root)."""

from django.urls import path

from access import delivery_views as views

app_name = "deliveries"

urlpatterns = [
    path("provider/deliveries/", views.delivery_list, name="list"),
    path("provider/deliveries/request/", views.delivery_request, name="request"),
    path("provider/deliveries/<str:delivery_id>/", views.delivery_progress, name="progress"),
    path(
        "provider/deliveries/<str:delivery_id>/download/",
        views.delivery_download,
        name="download",
    ),
    path("district/deliveries/", views.district_list, name="district-list"),
]
