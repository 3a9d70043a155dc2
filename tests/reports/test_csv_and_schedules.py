"""Small rules of the CSV (spec 4.3) and the schedules a migration creates (spec 4.2)."""

from decimal import Decimal

import pytest
from django_q.models import Schedule

from consumption.aggregation import ConsumptionRow
from reports.csv_export import write_csv


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_every_formula_start_is_escaped(start, tmp_path):
    row = ConsumptionRow((f"{start}x",), (Decimal("1.0000"), 0, 0, 0, 0, 0))
    path = tmp_path / "out.csv"
    with path.open("w", newline="") as out:
        write_csv(out, "Cluster", [row])
    cell = path.read_bytes().decode().split("\r\n")[1].split(",")[0].strip('"')
    assert cell == f"'{start}x"


def test_numbers_never_use_exponents(tmp_path):
    row = ConsumptionRow(("east",), (Decimal("1E+3"), Decimal("0E-4"), 0, 0, 10**20, 0))
    path = tmp_path / "out.csv"
    with path.open("w", newline="") as out:
        write_csv(out, "Cluster", [row])
    assert (
        path.read_bytes().decode().split("\r\n")[1]
        == "east,1000,0.0000,0,0,100000000000000000000,0"
    )


@pytest.mark.django_db
def test_the_sweepers_retention_file_check_and_report_schedules_are_scheduled_once_by_name():
    schedules = Schedule.objects.filter(func__startswith="reports.tasks.")
    assert sorted(schedules.values_list("name", "func", "schedule_type")) == [
        ("reports: check report files", "reports.tasks.check_report_files", "H"),
        ("reports: delete expired reports", "reports.tasks.delete_expired_reports", "H"),
        ("reports: run report schedules", "reports.tasks.run_report_schedules", "I"),
        ("reports: send report deliveries", "reports.tasks.sweep_deliveries", "I"),
        ("reports: sweep lost builds", "reports.tasks.sweep_lost_builds", "I"),
        ("reports: sweep stuck builds", "reports.tasks.sweep_stuck_builds", "I"),
    ]
    assert schedules.get(func="reports.tasks.sweep_stuck_builds").minutes == 1
    assert schedules.get(func="reports.tasks.sweep_lost_builds").minutes == 1
    assert schedules.get(func="reports.tasks.run_report_schedules").minutes == 1
    assert schedules.get(func="reports.tasks.sweep_deliveries").minutes == 1
