"""`check_report_files` (and its hourly schedule): files that belong to no report are deleted,
Ready reports whose file is gone are marked Failed, and what it found is printed; on local files
and in an S3-compatible bucket alike."""

import uuid
from io import StringIO

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command

from reports.models import Report, ReportStatus
from reports.services import create_report
from reports.tasks import check_report_files
from tests.reports.conftest import MARCH, ready_report, store, stored_files

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_queue", "report_storage")]


@pytest.fixture
def mess(viewer, usage):
    """A kept report, one whose file is gone, one being built, and two stray files."""
    kept = ready_report(viewer, "Kept")
    gone = ready_report(viewer, "Gone")
    default_storage.delete(gone.file.name)
    building = create_report(viewer, name="Building", start=MARCH[0], end=MARCH[1])
    Report.objects.filter(pk=building.pk).update(status=ReportStatus.PROCESSING)
    store(f"{building.pk}.csv", "half written")
    orphan = uuid.UUID("00000000-0000-4000-8000-000000000001")
    store(f"{orphan}.csv", "left behind")
    store("notes.txt", "not a report's")
    return {"kept": kept, "gone": gone, "building": building, "orphan": orphan}


def run(*args) -> str:
    out = StringIO()
    call_command("check_report_files", *args, stdout=out)
    return out.getvalue()


def test_without_fix_it_only_tells(mess):
    before = stored_files()
    assert run().splitlines() == [
        "4 report file(s) checked: 2 without a report to delete, 1 Ready report(s) without a "
        "file to mark Failed.",
        f"  file without a report: reports/{mess['orphan']}.csv",
        "  file without a report: reports/notes.txt",
        f"  Ready without a file: {mess['gone'].pk} 'Gone' (reports/{mess['gone'].pk}.csv)",
    ]
    assert stored_files() == before
    assert Report.objects.get(pk=mess["gone"].pk).status == ReportStatus.READY


def test_with_fix_it_deletes_the_files_and_fails_the_reports(mess):
    assert run("--fix").splitlines()[0] == (
        "4 report file(s) checked: 2 without a report deleted, 1 Ready report(s) without a "
        "file marked Failed."
    )
    assert stored_files() == sorted([f"{mess['kept'].pk}.csv", f"{mess['building'].pk}.csv"])
    gone = Report.objects.get(pk=mess["gone"].pk)
    assert (gone.status, gone.status_message, gone.file.name) == (
        ReportStatus.FAILED,
        "The report's file is missing from storage. Create the report again.",
        "",
    )
    assert Report.objects.get(pk=mess["kept"].pk).status == ReportStatus.READY
    assert run().splitlines()[0] == (
        "2 report file(s) checked: 0 without a report to delete, 0 Ready report(s) without a "
        "file to mark Failed."
    )


def test_the_schedule_fixes(mess):
    assert check_report_files().startswith("4 report file(s) checked: 2 without a report deleted")
    assert len(stored_files()) == 2


def test_no_folder_yet_is_nothing_to_do(db):
    assert run() == (
        "0 report file(s) checked: 0 without a report to delete, 0 Ready report(s) without a "
        "file to mark Failed.\n"
    )
