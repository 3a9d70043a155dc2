"""`manage.py benchmark_pages`: the table and the admin list timed over scratch tenants, which
are removed afterwards."""

import io
import re
from datetime import datetime

import pytest
from django.contrib.sessions.models import Session
from django.core.management import call_command

from reports.models import Report
from reports_site.tenancy.models import AccessRule, Tenant, User

CASES = ["first page", "filtered", "sorted", "search", "last page"]


# Committed for real, so that the clean-up is seen as another request would see it (and
# PostgreSQL's VACUUM runs outside a transaction).
@pytest.mark.slow
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
class TestBenchmarkPages:
    def test_it_times_every_case_and_removes_its_scratch_data(self, viewer, tenant):
        report = Report.objects.create(
            tenant=tenant,
            name="March",
            start=datetime.fromisoformat("2026-03-01T00:00Z"),
            end=datetime.fromisoformat("2026-04-01T00:00Z"),
            created_by=viewer.email,
            created_by_user=viewer,
        )
        before = [model.objects.count() for model in (Tenant, User, AccessRule, Session)]

        out = io.StringIO()
        call_command("benchmark_pages", reports=60, tenants=2, repeat=2, stdout=out)

        printed = out.getvalue()
        assert "filled 2 tenants with 60 reports each (120 in all)" in printed
        assert "table: 60 reports of one tenant" in printed
        assert "admin: all 121 reports of every tenant" in printed
        for case in CASES:
            figures = rf"^{case} +(\d+\.\d) +(\d+\.\d) +(\d+\.\d) +(\d+\.\d)$"
            assert re.search(figures, printed, re.MULTILINE), f"no figures for {case}"
        assert "removed the scratch data" in printed
        assert list(Report.objects.all()) == [report]
        assert [model.objects.count() for model in (Tenant, User, AccessRule, Session)] == before
