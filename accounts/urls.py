from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("", views.front_door, name="home"),
    path("sign-out/", auth_views.LogoutView.as_view(), name="sign-out"),
]
