from django.core.management.base import BaseCommand

from reports_site.tenancy.demo import DEMO_PASSWORD, seed_demo_org


class Command(BaseCommand):
    help = (
        "Create the demo tenants, their clusters, node pools, departments and projects, and users "
        "of several roles, then print their logins. Safe to run again: nothing is duplicated."
    )

    def handle(self, *args, **options) -> None:
        logins = seed_demo_org()
        self.stdout.write(self.style.SUCCESS("Demo data is ready. Log in at /accounts/login/ as:"))
        width = max(len(login.email) for login in logins)
        for login in logins:
            self.stdout.write(f"  {login.email:<{width}}  {login.role}")
        self.stdout.write(f"Every demo user's password is: {DEMO_PASSWORD}")
