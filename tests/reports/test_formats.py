"""A Ready report downloaded as XLSX or Parquet (issue 15, Formats): made from its stored CSV,
read back by other readers (tests/reports/readers.py) and compared with the CSV cell by cell;
the workbook's header, filters, widths and cell types; from the report's page and from the
table's Download action, with the same checks as the CSV's."""

import io
import re
import urllib.parse
import zipfile
from datetime import UTC, date, datetime
from decimal import Decimal
from xml.etree import ElementTree

import openpyxl
import pyarrow as pa
import pytest
from django.test import Client
from django.urls import reverse
from openpyxl.utils import get_column_letter

from consumption.models import Price
from reports.models import Report
from reports.parquet import write_parquet
from reports.services import create_report
from reports.xlsx import write_xlsx
from tests.consumption.samples import GIB, sample, save_samples
from tests.factories import ClusterFactory, DepartmentFactory, ProjectFactory, grant
from tests.reports.conftest import MARCH, ready_report
from tests.reports.readers import (
    PARQUET_TYPE,
    XLSX_TYPE,
    as_in_a_spreadsheet,
    assert_parquet_matches_csv,
    assert_xlsx_matches_csv,
    column_kind,
    csv_rows,
    parquet_table,
    typed_rows,
    unguarded,
    xlsx_rows,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_queue")]

DOWNLOAD_SELECTED = reverse("reports:report_download_selected")
# Names a spreadsheet would take for something else: a formula, an error, a number.
ODD_NAMES = ["=SUM(A1)", "#N/A", "-1", "0042", "@home", "+cmd"]
SHEET = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
# An Excel sheet has 1,048,576 rows, the header's among them.
EXCEL_ROWS = 1_048_576


@pytest.fixture
def odd_names(tenant, org):
    """Usage of projects with names that look like formulas, errors and numbers, in a cluster
    and a department named in other scripts; one sample crosses midnight (UTC) of 10 March."""
    cluster = ClusterFactory(tenant=tenant, name="東京")
    department = DepartmentFactory(cluster=cluster, name="Ärger & Σύνοψη")
    save_samples(
        *(
            sample(
                ProjectFactory(department=department, name=name),
                "2026-03-10T23:00Z",
                7200,
                gpu=number + 1,
                idle="0.25",
                cpu="1.5",
                cpu_used="0.3333",
                memory=(number + 1) * GIB,
                memory_used=12345,
            )
            for number, name in enumerate(ODD_NAMES)
        ),
        sample(org["vision"], "2026-03-20T10:00Z", 1800, gpu=3, nodepool="a100"),
    )
    return cluster


@pytest.fixture
def prices(tenant):
    """Acme's prices in euros from before March: amounts with cents and fractions of them."""
    for resource, amount in [("gpu", "2.125"), ("cpu", "0.031"), ("memory", "0.0043")]:
        Price.objects.create(
            tenant=tenant,
            resource=resource,
            amount=Decimal(amount),
            currency="EUR",
            valid_from=datetime(2026, 1, 1, tzinfo=UTC),
        )


@pytest.fixture(
    params=[
        {},
        {"group_by": "Nodepool"},
        {"group_by": "Workload"},
        {"bucket": "Day"},
        {"bucket": "Week", "costs": True},
    ],
    ids=["by project", "by node pool", "by workload", "per day", "per week with costs"],
)
def built(request, viewer, odd_names, prices) -> Report:
    """A Ready report of the odd names and more, of each kind of header."""
    return ready_report(viewer, "March GPUs", **request.param)


def stored(report: Report) -> bytes:
    with report.file.open("rb") as file:
        return file.read()


def downloaded(client: Client, report: Report, file_format: str) -> bytes:
    response = client.get(
        reverse("reports:report_download", args=[report.pk]), {"format": file_format}
    )
    assert response.status_code == 200, response.content
    return b"".join(response.streaming_content)


@pytest.fixture
def alices(client, viewer) -> Client:
    client.force_login(viewer)
    return client


class TestXlsx:
    def test_every_cell_is_the_csvs_typed(self, alices, built):
        assert_xlsx_matches_csv(downloaded(alices, built, "xlsx"), stored(built))

    def test_names_are_the_literal_text_without_the_csvs_guard(self, alices, viewer, odd_names):
        report = ready_report(viewer, "Odd")
        projects = [row[2] for row in xlsx_rows(downloaded(alices, report, "xlsx"))[1:]]
        in_csv = [row[2] for row in csv_rows(stored(report))[1:]]
        assert "'=SUM(A1)" in in_csv and "'-1" in in_csv  # the CSV guards them
        assert sorted(projects) == sorted([*ODD_NAMES, "vision"])

    def test_the_sheet_stores_names_as_text_and_numbers_as_numbers(self, alices, built):
        """Read from the sheet's XML: a name is a string cell (shared or inline), never a
        formula; a number or a date is a number cell."""
        with zipfile.ZipFile(io.BytesIO(downloaded(alices, built, "xlsx"))) as book:
            sheet = ElementTree.fromstring(book.read("xl/worksheets/sheet1.xml"))
        head = csv_rows(stored(built))[0]
        rows = sheet.findall(f"{SHEET}sheetData/{SHEET}row")
        assert len(rows) == len(csv_rows(stored(built)))
        assert sheet.findall(f".//{SHEET}f") == []
        for row in rows:
            cells = row.findall(f"{SHEET}c")
            assert len(cells) == len(head)
            for column, cell in zip(head, cells, strict=True):
                if row.get("r") == "1" or column_kind(column) == "text":
                    assert cell.get("t") in ("s", "inlineStr"), (column, cell.attrib)
                else:
                    assert cell.get("t", "n") == "n", (column, cell.attrib)
                    float(cell.find(f"{SHEET}v").text)

    def test_the_header_is_bold_frozen_and_filtered(self, alices, built):
        sheet = openpyxl.load_workbook(io.BytesIO(downloaded(alices, built, "xlsx"))).active
        head, *rows = csv_rows(stored(built))
        assert [cell.font.b for cell in sheet[1]] == [True] * len(head)
        assert [cell.font.b for cell in sheet[2]] == [False] * len(head)
        assert sheet.freeze_panes == "A2"
        assert sheet.auto_filter.ref == f"A1:{get_column_letter(len(head))}{len(rows) + 1}"

    def test_numbers_show_as_the_csv_writes_them_and_dates_as_dates(self, alices, built):
        sheet = openpyxl.load_workbook(io.BytesIO(downloaded(alices, built, "xlsx"))).active
        shown = {
            "date": "yyyy-mm-dd",
            "hours": "#,##0.0000",
            "byte-hours": "#,##0",
            "money": "#,##0.00",
            "text": "General",
        }
        head = csv_rows(stored(built))[0]
        for column, cell in zip(head, sheet[2], strict=True):
            assert cell.number_format == shown[column_kind(column)], column
            assert cell.is_date == (column == "Period start")
            # openpyxl reads a number cell shown as a date as a date ("d").
            stored_as = {"text": "s", "date": "d"}.get(column_kind(column), "n")
            assert cell.data_type == stored_as, column

    def test_each_column_is_as_wide_as_its_widest_cell(self, alices, built):
        sheet = openpyxl.load_workbook(io.BytesIO(downloaded(alices, built, "xlsx"))).active
        head, *rows = csv_rows(stored(built))
        for number, column in enumerate(head):
            cells = [_as_shown(column, row[number]) for row in rows]
            widest = max(map(_width, [column, *cells]))
            width = sheet.column_dimensions[get_column_letter(number + 1)].width
            # Room for the widest cell, and not much more: at most a few characters beside it
            # (the header has the filter's button).
            assert widest < width <= widest + 6, (column, widest, width)

    def test_a_report_without_rows_is_its_header(self, alices, viewer, org):
        report = ready_report(viewer, "Empty")
        assert report.row_count == 0
        data = downloaded(alices, report, "xlsx")
        assert xlsx_rows(data) == [csv_rows(stored(report))[0]]
        sheet = openpyxl.load_workbook(io.BytesIO(data)).active
        assert sheet.auto_filter.ref == "A1:I1"


def _as_shown(column: str, cell: str) -> str:
    """A CSV cell as the workbook shows it: numbers with thousands separators."""
    kind = column_kind(column)
    if kind == "text":
        return unguarded(cell)
    if kind == "date":
        return cell
    whole, _, decimals = cell.partition(".")
    return f"{int(whole):,}" + (f".{decimals}" if decimals else "")


def _width(text: str) -> int:
    # Characters of East Asian scripts take two columns.
    return sum(2 if re.match(r"[\u3000-\u9fff\uff00-\uffef]", char) else 1 for char in text)


class TestParquet:
    def test_every_column_is_typed_and_every_cell_is_the_csvs(self, alices, built):
        assert_parquet_matches_csv(downloaded(alices, built, "parquet"), stored(built))

    def test_the_period_start_is_a_date(self, alices, viewer, odd_names):
        report = ready_report(viewer, "Daily", bucket="Day")
        table = parquet_table(downloaded(alices, report, "parquet"))
        days = table.column("Period start").to_pylist()
        assert sorted(set(days)) == [date(2026, 3, 10), date(2026, 3, 11), date(2026, 3, 20)]

    def test_names_are_the_literal_text_without_the_csvs_guard(self, alices, viewer, odd_names):
        report = ready_report(viewer, "Odd")
        table = parquet_table(downloaded(alices, report, "parquet"))
        assert sorted(table.column("Project").to_pylist()) == sorted([*ODD_NAMES, "vision"])

    def test_a_report_without_rows_has_its_columns(self, alices, viewer, org):
        report = ready_report(viewer, "Empty")
        table = parquet_table(downloaded(alices, report, "parquet"))
        assert table.num_rows == 0
        assert table.schema.names == csv_rows(stored(report))[0]


# A file with large amounts and a guarded name, written by hand.
WITH_COSTS = (
    b"Period start,Cluster,GPU allocation hours,CPU Memory bytes allocation hours,"
    b"GPU cost (EUR),Total cost (EUR)\r\n"
    b"2026-03-02,east,1234567.1250,987654321012,1234567.89,1300000.00\r\n"
    b"2026-03-09,'=west,0.0001,0,0.01,0.00\r\n"
)


class TestMoney:
    def test_xlsx_has_amounts_to_cents(self):
        out = io.BytesIO()
        write_xlsx(io.BytesIO(WITH_COSTS), out)
        assert_xlsx_matches_csv(out.getvalue(), WITH_COSTS)
        sheet = openpyxl.load_workbook(out).active
        assert [cell.number_format for cell in sheet[2]][4:] == ["#,##0.00", "#,##0.00"]
        assert [cell.value for cell in sheet[2]][4:] == [1234567.89, 1300000]

    def test_parquet_has_decimals_to_cents(self):
        out = io.BytesIO()
        write_parquet(io.BytesIO(WITH_COSTS), out)
        assert_parquet_matches_csv(out.getvalue(), WITH_COSTS)
        table = parquet_table(out.getvalue())
        assert table.schema.field("GPU cost (EUR)").type == pa.decimal128(38, 2)
        assert table.column("Total cost (EUR)").to_pylist() == [
            Decimal("1300000.00"),
            Decimal("0.00"),
        ]


class TestReportPage:
    """GET /analytics/reports/<id>/download/?format=…"""

    @pytest.mark.parametrize(
        "file_format, content_type", [("xlsx", XLSX_TYPE), ("parquet", PARQUET_TYPE)]
    )
    def test_it_downloads_under_the_reports_name(
        self, alices, viewer, usage, file_format, content_type
    ):
        report = ready_report(viewer, "Отчёт: März")
        response = alices.get(
            reverse("reports:report_download", args=[report.pk]), {"format": file_format}
        )
        assert response.status_code == 200
        assert response["Content-Type"] == content_type
        name = urllib.parse.quote(f"отчёт-märz.{file_format}")
        assert response["Content-Disposition"] == f"attachment; filename*=utf-8''{name}"

    def test_csv_by_name_is_the_stored_file(self, alices, viewer, usage):
        report = ready_report(viewer, "March")
        assert downloaded(alices, report, "csv") == stored(report)

    def test_the_page_links_each_format(self, alices, viewer, usage):
        report = ready_report(viewer, "March")
        html = alices.get(reverse("reports:report_detail", args=[report.pk])).content.decode()
        url = reverse("reports:report_download", args=[report.pk])
        links = [("CSV", ""), ("Excel", "?format=xlsx"), ("Parquet", "?format=parquet")]
        for label, query in links:
            assert f'href="{url}{query}">Download {label}</a>' in html

    @pytest.mark.parametrize("file_format", ["xls", "XLSX", "", "csv,xlsx"])
    def test_an_unknown_format_is_refused_naming_the_formats(
        self, alices, viewer, usage, file_format
    ):
        report = ready_report(viewer, "March")
        response = alices.get(
            reverse("reports:report_download", args=[report.pk]), {"format": file_format}
        )
        assert response.status_code == 400
        assert (
            f"Unknown file format {file_format!r}: use one of csv, xlsx, parquet."
            in response.content.decode().replace("&#x27;", "'")
        )

    def test_a_report_that_is_not_ready_is_not_converted(self, alices, viewer, usage):
        pending = create_report(viewer, name="Waiting", start=MARCH[0], end=MARCH[1])
        response = alices.get(
            reverse("reports:report_download", args=[pending.pk]), {"format": "xlsx"}
        )
        assert response.status_code == 409
        assert "can be downloaded once it is Ready" in response.content.decode()

    def test_another_tenants_report_is_not_found(self, client, charlie, viewer, usage):
        report = ready_report(viewer, "March")
        grant(charlie, "System administrator", charlie.tenant)
        client.force_login(charlie)
        url = reverse("reports:report_download", args=[report.pk])
        assert client.get(url, {"format": "parquet"}).status_code == 404
        assert client.get(url, {"format": "nonsense"}).status_code == 404

    def test_a_report_with_more_rows_than_a_sheet_holds_is_excel_only_refused(
        self, alices, viewer, usage
    ):
        report = ready_report(viewer, "Huge")
        Report.objects.filter(pk=report.pk).update(row_count=EXCEL_ROWS)
        url = reverse("reports:report_download", args=[report.pk])
        response = alices.get(url, {"format": "xlsx"})
        assert response.status_code == 409
        assert "Too many rows for Excel, which holds at most 1,048,575 below its header" in (
            response.content.decode()
        )
        assert alices.get(url, {"format": "parquet"}).status_code == 200
        Report.objects.filter(pk=report.pk).update(row_count=EXCEL_ROWS - 1)
        assert alices.get(url, {"format": "xlsx"}).status_code == 200
        # A Ready report whose count is not known (not made by a build) is converted.
        Report.objects.filter(pk=report.pk).update(row_count=None)
        assert alices.get(url, {"format": "xlsx"}).status_code == 200


class TestDownloadSelected:
    """The table's Download buttons: POST ids and the button's format."""

    def test_one_report_downloads_as_its_file(self, alices, viewer, usage):
        report = ready_report(viewer, "March GPUs")
        response = alices.post(DOWNLOAD_SELECTED, {"ids": [report.pk], "format": "xlsx"})
        assert response.status_code == 200
        assert response["Content-Type"] == XLSX_TYPE
        assert response["Content-Disposition"] == 'attachment; filename="march-gpus.xlsx"'
        assert_xlsx_matches_csv(b"".join(response.streaming_content), stored(report))

    @pytest.mark.parametrize("file_format", ["xlsx", "parquet"])
    def test_several_download_as_a_zip_of_their_files(self, alices, viewer, usage, file_format):
        reports = [
            ready_report(viewer, "March GPUs"),
            ready_report(viewer, "March: GPUs!"),  # the same slug
            ready_report(viewer, "Clusters", group_by="Cluster", bucket="Day"),
        ]
        response = alices.post(
            DOWNLOAD_SELECTED, {"ids": [r.pk for r in reports], "format": file_format}
        )
        assert response.status_code == 200
        assert response["Content-Type"] == "application/zip"
        archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
        names = ["march-gpus", "march-gpus-2", "clusters"]
        assert sorted(archive.namelist()) == sorted(f"{name}.{file_format}" for name in names)
        check = assert_xlsx_matches_csv if file_format == "xlsx" else assert_parquet_matches_csv
        for report, name in zip(reports, names, strict=True):
            check(archive.read(f"{name}.{file_format}"), stored(report))

    def test_without_a_format_it_is_the_csv(self, alices, viewer, usage):
        report = ready_report(viewer, "March GPUs")
        response = alices.post(DOWNLOAD_SELECTED, {"ids": [report.pk]})
        assert response["Content-Disposition"] == 'attachment; filename="march-gpus.csv"'
        assert b"".join(response.streaming_content) == stored(report)

    def test_an_unknown_format_is_refused_naming_the_formats(self, alices, viewer, usage):
        report = ready_report(viewer, "March GPUs")
        response = alices.post(DOWNLOAD_SELECTED, {"ids": [report.pk], "format": "pdf"})
        assert response.status_code == 400
        assert "use one of csv, xlsx, parquet." in response.content.decode()

    def test_a_report_that_is_not_ready_is_named_and_nothing_downloads(self, alices, viewer, usage):
        ready = ready_report(viewer, "March GPUs")
        pending = create_report(viewer, name="Still waiting", start=MARCH[0], end=MARCH[1])
        response = alices.post(
            DOWNLOAD_SELECTED, {"ids": [ready.pk, pending.pk], "format": "parquet"}
        )
        assert response.status_code == 409
        assert "Still waiting" in response.content.decode()

    def test_a_report_the_user_may_not_see_is_not_found(self, client, researcher, viewer, usage):
        alices = ready_report(viewer, "March GPUs")
        client.force_login(researcher)
        response = client.post(DOWNLOAD_SELECTED, {"ids": [alices.pk], "format": "xlsx"})
        assert response.status_code == 404

    def test_it_needs_the_csrf_token(self, viewer, usage):
        report = ready_report(viewer, "March GPUs")
        client = Client(enforce_csrf_checks=True)
        client.force_login(viewer)
        response = client.post(DOWNLOAD_SELECTED, {"ids": [report.pk], "format": "xlsx"})
        assert response.status_code == 403


def test_the_workbook_reads_as_its_typed_rows():
    """The readers' own check: a workbook made by hand from typed rows reads back as they are,
    so the comparisons above can tell a wrong cell."""
    book = openpyxl.Workbook()
    values = typed_rows(b"Cluster,GPU allocation hours\r\neast,1.5000\r\n")
    book.active.append(["Cluster", "GPU allocation hours"])
    book.active.append(values[0])
    out = io.BytesIO()
    book.save(out)
    assert xlsx_rows(out.getvalue())[1] == as_in_a_spreadsheet(values)[0] == ["east", 1.5]
    with pytest.raises(AssertionError):
        assert_xlsx_matches_csv(out.getvalue(), b"Cluster,GPU allocation hours\r\neast,1.5001\r\n")
