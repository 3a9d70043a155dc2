"""A report keeps what its page shows (its CSV's first rows and its largest segments); the Ready
reports built before are summarised once from their files, as the page used to read them."""

import csv
import heapq
import itertools
from decimal import Decimal, InvalidOperation

from django.core.files.storage import default_storage
from django.db import migrations, models

PREVIEW_ROWS = 10
CHART_SEGMENTS = 10
# How many CSV columns name a row's segment, by segment (as of this migration).
SEGMENT_WIDTH = {"Cluster": 1, "Department": 2, "Project": 3, "Nodepool": 2}


def summarise_built_reports(apps, schema_editor):
    Report = apps.get_model("reports", "Report")
    built = Report.objects.filter(status="Ready", summary={}).exclude(file="")
    for report in built.only("pk", "group_by", "file").iterator():
        try:
            summary = _summary_of_file(report.file.name, SEGMENT_WIDTH[report.group_by])
        except (OSError, UnicodeDecodeError, csv.Error, KeyError):
            continue  # a missing or unreadable file: its page shows no preview, as before
        Report.objects.filter(pk=report.pk).update(summary=summary)


def _summary_of_file(name: str, width: int) -> dict:
    with default_storage.open(name, "rb") as file:
        rows = csv.reader(line.decode("utf-8") for line in file)
        preview = list(itertools.islice(rows, PREVIEW_ROWS + 1))
        segments = (
            (hours, " / ".join(row[:width]), row[width])
            for row in itertools.chain(preview[1:], rows)
            if (hours := _decimal(row, width)) is not None
        )
        top = heapq.nlargest(CHART_SEGMENTS, segments, key=lambda segment: segment[0])
    return {"preview": preview, "top": [[label, text] for _, label, text in top]}


def _decimal(row: list[str], index: int) -> Decimal | None:
    try:
        return Decimal(row[index])
    except (IndexError, InvalidOperation):
        return None


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0006_build_queue_rescue"),
    ]

    operations = [
        migrations.AddField(
            model_name="report",
            name="summary",
            field=models.JSONField(blank=True, default=dict, editable=False),
        ),
        migrations.RunPython(summarise_built_reports, migrations.RunPython.noop, elidable=True),
    ]
