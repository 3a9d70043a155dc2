"""Ready reports as HTTP downloads: the responses the pages, the API and the admin send."""

import shutil
import tempfile
import zipfile

from django.conf import settings
from django.http import FileResponse, HttpResponse, HttpResponseRedirect
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.text import slugify

from .models import Report

CSV_TYPE = "text/csv; charset=utf-8"


def download_name(report: Report) -> str:
    """The report's name as a file name: its letters kept, in any script (Django sends a
    non-ASCII name as RFC 6266's `filename*`, and a zip marks it as UTF-8)."""
    return f"{slugify(report.name, allow_unicode=True) or 'report'}.csv"


def csv_response(report: Report) -> HttpResponse:
    """The file of a Ready report (the caller checks that it is Ready and visible): streamed,
    or, with S3_DOWNLOAD_REDIRECT, a redirect to the object's URL, signed for
    S3_URL_EXPIRY_SECONDS and answering with the same name and type."""
    if settings.S3_DOWNLOAD_REDIRECT:
        url = report.file.storage.url(
            report.file.name,
            parameters={
                "ResponseContentDisposition": content_disposition_header(
                    as_attachment=True, filename=download_name(report)
                ),
                "ResponseContentType": CSV_TYPE,
            },
            expire=settings.S3_URL_EXPIRY_SECONDS,
        )
        return HttpResponseRedirect(url)
    return FileResponse(
        report.file.open("rb"),
        as_attachment=True,
        filename=download_name(report),
        content_type=CSV_TYPE,
    )


def zip_response(reports: list[Report]) -> FileResponse:
    """Several Ready reports as one zip of their CSVs, each under its download name (made
    unique with a number when two names slugify alike)."""
    # FileResponse closes the file once it is sent.
    archive = tempfile.TemporaryFile()  # noqa: SIM115
    used = set()
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
        for report in sorted(reports, key=lambda report: report.name.lower()):
            name = _unique(download_name(report), used)
            with report.file.open("rb") as source, zipped.open(name, "w") as target:
                shutil.copyfileobj(source, target)
    archive.seek(0)
    return FileResponse(
        archive,
        as_attachment=True,
        filename=f"reports-{timezone.now():%Y%m%d-%H%M%S}.zip",
        content_type="application/zip",
    )


def _unique(name: str, used: set[str]) -> str:
    stem, suffix = name.rsplit(".", 1)
    candidate, number = name, 1
    while candidate in used:
        number += 1
        candidate = f"{stem}-{number}.{suffix}"
    used.add(candidate)
    return candidate
