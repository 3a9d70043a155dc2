from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from reports.api.errors import not_found, server_error
from reports_site.tenancy.views import LoginView

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="reports:report_list"), name="home"),
    path("accounts/login/", LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("analytics/reports/", include("reports.urls")),
    path("analytics/schedules/", include("reports.schedule_urls")),
    path("api/", include("reports.api.urls")),
    path("admin/", admin.site.urls),
]

# The API answers in JSON even for a path it does not have, or a failure of its own.
handler404 = not_found
handler500 = server_error
