"""Ready reports as HTTP downloads: the responses the pages, the API and the admin send."""

import shutil
import tempfile
import zipfile
from typing import BinaryIO

from django.conf import settings
from django.http import FileResponse, HttpResponse, HttpResponseRedirect
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.text import slugify

from .formats import CSV, FileFormat
from .models import Report


def download_name(report: Report, file_format: FileFormat = CSV) -> str:
    """The report's name as a file name: its letters kept, in any script (Django sends a
    non-ASCII name as RFC 6266's `filename*`, and a zip marks it as UTF-8)."""
    return f"{slugify(report.name, allow_unicode=True) or 'report'}.{file_format.name}"


def refusal(reports: list[Report], file_format: FileFormat) -> str | None:
    """Why these Ready reports cannot be downloaded in this format, if they cannot: some have
    more rows than it holds (as far as is known: a report made otherwise than by a build may
    not have its count)."""
    limit = file_format.max_rows
    too_long = [
        report
        for report in reports
        if limit is not None and report.row_count is not None and report.row_count > limit
    ]
    if not too_long:
        return None
    named = ", ".join(f"{report.name!r} ({report.row_count:,} rows)" for report in too_long)
    return (
        f"Too many rows for {file_format.label}, which holds at most {limit:,} below its "
        f"header: {named}. Download as CSV or Parquet instead."
    )


def file_response(report: Report, file_format: FileFormat = CSV) -> HttpResponse:
    """The file of a Ready report in this format (the caller checks that it is Ready, visible
    and not refused): the CSV as `csv_response` sends it, another format made from it on the
    spot and streamed."""
    if file_format.writer is None:
        return csv_response(report)
    return FileResponse(
        _converted(report, file_format),
        as_attachment=True,
        filename=download_name(report, file_format),
        content_type=file_format.content_type,
    )


def csv_response(report: Report) -> HttpResponse:
    """The CSV of a Ready report (the caller checks that it is Ready and visible): streamed,
    or, with S3_DOWNLOAD_REDIRECT, a redirect to the object's URL, signed for
    S3_URL_EXPIRY_SECONDS and answering with the same name and type."""
    if settings.S3_DOWNLOAD_REDIRECT:
        url = report.file.storage.url(
            report.file.name,
            parameters={
                "ResponseContentDisposition": content_disposition_header(
                    as_attachment=True, filename=download_name(report)
                ),
                "ResponseContentType": CSV.content_type,
            },
            expire=settings.S3_URL_EXPIRY_SECONDS,
        )
        return HttpResponseRedirect(url)
    return FileResponse(
        report.file.open("rb"),
        as_attachment=True,
        filename=download_name(report),
        content_type=CSV.content_type,
    )


def zip_response(reports: list[Report], file_format: FileFormat = CSV) -> FileResponse:
    """Several Ready reports as one zip of their files in this format, each under its
    download name (made unique with a number when two names slugify alike)."""
    # FileResponse closes the file once it is sent.
    archive = tempfile.TemporaryFile()  # noqa: SIM115
    used = set()
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
        for report in sorted(reports, key=lambda report: report.name.lower()):
            name = _unique(download_name(report, file_format), used)
            with _opened(report, file_format) as source, zipped.open(name, "w") as target:
                shutil.copyfileobj(source, target)
    archive.seek(0)
    return FileResponse(
        archive,
        as_attachment=True,
        filename=f"reports-{timezone.now():%Y%m%d-%H%M%S}.zip",
        content_type="application/zip",
    )


def _opened(report: Report, file_format: FileFormat) -> BinaryIO:
    """The report's file in this format, open for reading from its start."""
    if file_format.writer is None:
        return report.file.open("rb")
    return _converted(report, file_format)


def _converted(report: Report, file_format: FileFormat) -> BinaryIO:
    """The report's stored file written in another format, in a temporary file (deleted once
    closed), read through the storage so that a file in a bucket converts as a local one."""
    converted = tempfile.TemporaryFile()  # noqa: SIM115 - the caller closes it
    try:
        with report.file.open("rb") as source:
            file_format.write(source, converted)
    except BaseException:
        converted.close()
        raise
    converted.seek(0)
    return converted


def _unique(name: str, used: set[str]) -> str:
    stem, suffix = name.rsplit(".", 1)
    candidate, number = name, 1
    while candidate in used:
        number += 1
        candidate = f"{stem}-{number}.{suffix}"
    used.add(candidate)
    return candidate
