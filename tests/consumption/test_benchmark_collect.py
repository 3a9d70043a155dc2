"""`manage.py benchmark_collect`: a small synthetic history served by a real Prometheus, collected
for 1 and 2 days; the pod-hours it reports are those the history holds by its documented rules."""

import io
import re
import tempfile

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from reports_site.tenancy.models import Tenant

# By the rules in consumption/collect_benchmarking.py: pod i is a job when i % 3 == 2, Running
# 06:30 to 18:30 (13 hours touched a day); every other pod runs all day (24).
PODS, DAYS = 5, 2
PER_DAY = sum(13 if i % 3 == 2 else 24 for i in range(PODS))  # 4 × 24 + 13 = 109
ROW = r"^{kind} +{days} +([\d,]+) +(\d+\.\d\d) +([\d,]+) +(\d+)% +(\d+\.\d|-)$"


@pytest.mark.prometheus
@pytest.mark.slow
@pytest.mark.django_db
class TestBenchmarkCollect:
    def test_it_reports_the_pod_hours_the_history_holds(self, tmp_path, monkeypatch):
        monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
        tenants = list(Tenant.objects.all())

        out = io.StringIO()
        call_command("benchmark_collect", pods=PODS, days=DAYS, stdout=out)

        printed = out.getvalue()
        assert f"history: {PODS} pods, {DAYS} days from " in printed
        header = r"^measured +days +pod-hours +seconds +pod-hours/s +in Prometheus +peak MB$"
        assert re.search(header, printed, re.MULTILINE)
        for kind in ("ask", "collect"):
            for days in (1, DAYS):
                row = re.search(ROW.format(kind=kind, days=days), printed, re.MULTILINE)
                assert row, f"no {kind} row for {days} days in:\n{printed}"
                pod_hours, seconds, rate, share, peak = row.groups()
                assert int(pod_hours.replace(",", "")) == PER_DAY * days
                assert float(seconds) > 0 and 0 <= int(share) <= 100
                assert (peak == "-") == (kind == "collect")
        assert "target: at least 10,000 pod-hours/s" in printed
        # The history's folder and the scratch tenant are gone.
        assert list(tmp_path.iterdir()) == []
        assert list(Tenant.objects.all()) == tenants

    def test_it_keeps_the_history_when_asked(self, tmp_path):
        kept = tmp_path / "history"
        out = io.StringIO()
        call_command("benchmark_collect", pods=2, days=1, keep=str(kept), stdout=out)

        assert f"kept the history in {kept}" in out.getvalue()
        assert (kept / "day-0.om").read_text().endswith("# EOF\n")
        assert any((kept / "data").iterdir())


class TestBenchmarkCollectWithoutPrometheus:
    def test_it_says_what_is_missing(self, monkeypatch):
        monkeypatch.setattr("shutil.which", lambda program: None)
        with pytest.raises(CommandError, match="prometheus and promtool not found: install"):
            call_command("benchmark_collect", pods=1, days=1)
