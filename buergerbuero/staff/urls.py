from django.contrib.auth import views as auth_views
from django.urls import path

from buergerbuero.staff import account_views, views

app_name = "staff"
urlpatterns = [
    path("", views.home, name="home"),
    path("login/", account_views.StaffLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("login/verify/", account_views.verify, name="verify"),
    path("login/second-factor/", account_views.setup, name="setup"),
    path("account/", account_views.security, name="security"),
    path("account/recovery-codes/", account_views.renew_codes, name="renew_codes"),
    path("account/second-factor/remove/", account_views.remove, name="remove_second_factor"),
    path("password/", account_views.StaffPasswordChangeView.as_view(), name="password_change"),
]
