from datetime import datetime

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from reports.models import Report
from reports.services import create_report
from reports.tasks import build_report

MARCH = (datetime.fromisoformat("2026-03-01T00:00Z"), datetime.fromisoformat("2026-04-01T00:00Z"))


def ready_report(subject, name: str, **fields) -> Report:
    """A report of March, built (by calling the task, as no worker runs) and Ready."""
    report = create_report(subject, name=name, start=MARCH[0], end=MARCH[1], **fields)
    build_report(str(report.pk))
    report.refresh_from_db()
    return report


def stored_files() -> list[str]:
    """The names of the files in the reports folder of storage (local files, or a bucket)."""
    try:
        return sorted(default_storage.listdir("reports")[1])
    except FileNotFoundError:
        return []


def store(name: str, text: str) -> None:
    """Write a file into the reports folder of storage, as something other than a build."""
    default_storage.save(f"reports/{name}", ContentFile(text.encode()))
