from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import district_security, staff, two_factor, views

app_name = "accounts"

urlpatterns = [
    path("", views.front_door, name="home"),
    path("sign-out/", auth_views.LogoutView.as_view(), name="sign-out"),
    path("welcome/<str:token>/", views.welcome, name="welcome"),
    path("district/invitations/", views.district_invitations, name="district-invitations"),
    path("district/staff/", staff.staff_list, name="staff"),
    path("district/staff/<int:user_id>/roles/", staff.staff_role_assign, name="staff-role"),
    path(
        "district/staff/<int:user_id>/sign-in/release/",
        staff.staff_sign_in_release,
        name="staff-sign-in-release",
    ),
    path(
        "district/staff/roles/<int:membership_id>/end/", staff.staff_role_end, name="staff-role-end"
    ),
    path("two-factor/verify/", two_factor.verify, name="two-factor-verify"),
    path("two-factor/setup/", two_factor.setup, name="two-factor-setup"),
    path("two-factor/recovery-codes/", two_factor.recovery_codes, name="two-factor-codes"),
    path("account/security/", two_factor.security, name="security"),
    path("district/security/", district_security.settings_page, name="district-security"),
    path(
        "district/staff/<int:user_id>/second-factor/reset/",
        staff.staff_second_factor_reset,
        name="staff-second-factor-reset",
    ),
    path("password-reset/", views.password_reset, name="password-reset"),
    path("password-reset/sent/", views.password_reset_sent, name="password-reset-sent"),
    path(
        "password-reset/<uidb64>/<token>/",
        views.password_reset_confirm,
        name="password-reset-confirm",
    ),
    path("password-reset/done/", views.password_reset_complete, name="password-reset-complete"),
]
