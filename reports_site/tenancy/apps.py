from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "reports_site.tenancy"
    label = "tenancy"
    verbose_name = "Tenancy and access"
