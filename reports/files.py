"""Report files against report rows: files that belong to no report, and Ready reports whose
file is gone (`check_report_files`, and its schedule)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from django.core.files.storage import default_storage

from .models import Report, ReportStatus, report_file_name

FOLDER = report_file_name(Report(pk=uuid.UUID(int=0)), "").rsplit("/", 1)[0]
MISSING_FILE_MESSAGE = "The report's file is missing from storage. Create the report again."


@dataclass
class FileCheck:
    fixed: bool
    files: int = 0
    orphans: list[str] = field(default_factory=list)  # files of no report
    missing: list[Report] = field(default_factory=list)  # Ready, without their file

    def summary(self) -> str:
        done = ("deleted", "marked Failed") if self.fixed else ("to delete", "to mark Failed")
        lines = [
            f"{self.files} report file(s) checked: {len(self.orphans)} without a report "
            f"{done[0]}, {len(self.missing)} Ready report(s) without a file {done[1]}."
        ]
        lines += [f"  file without a report: {name}" for name in self.orphans]
        lines += [
            f"  Ready without a file: {r.pk} {r.name!r} ({r.file.name})" for r in self.missing
        ]
        return "\n".join(lines)


def check_files(fix: bool) -> FileCheck:
    """Find (and with `fix`, mend) what does not match. Files are listed before the reports are
    read: a build stores its file only once it has claimed an existing report, so a listed file
    whose report is not found afterwards has been left behind."""
    check = FileCheck(fixed=fix)
    try:
        _, names = default_storage.listdir(FOLDER)
    except FileNotFoundError:
        names = []
    check.files = len(names)
    paths = {f"{FOLDER}/{name}": _report_id(name) for name in names}
    owners = {
        str(pk): (status, file)
        for pk, status, file in Report.objects.filter(
            pk__in={report_id for report_id in paths.values() if report_id}
        ).values_list("pk", "status", "file")
    }
    for path, report_id in sorted(paths.items()):
        status, file = owners.get(report_id, (None, None))
        # A report still in the queue or being built may be writing this very file.
        building = status in (ReportStatus.PENDING, ReportStatus.PROCESSING)
        if file != path and not building:
            check.orphans.append(path)
    listed = set(paths)
    for report in Report.objects.filter(status=ReportStatus.READY).only("pk", "name", "file"):
        if report.file.name not in listed and not default_storage.exists(report.file.name):
            check.missing.append(report)
    if fix:
        for path in check.orphans:
            default_storage.delete(path)
        for report in check.missing:
            Report.objects.filter(
                pk=report.pk, status=ReportStatus.READY, file=report.file.name
            ).fail(MISSING_FILE_MESSAGE, file="", file_size=None)
    return check


def _report_id(name: str) -> str | None:
    """The report a file name was derived from (its UUID), if any."""
    try:
        return str(uuid.UUID(name[:36]))
    except ValueError:
        return None
