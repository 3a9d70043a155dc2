"""Builds lost before any worker took them are queued again (times_queued counts), and two more
schedules, created by name: the sweeper of lost builds and the check of report files."""

from django.db import migrations, models

SCHEDULES = {
    "reports: sweep lost builds": ("reports.tasks.sweep_lost_builds", "I", 1),
    "reports: check report files": ("reports.tasks.check_report_files", "H", None),
}


def create_schedules(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    for name, (func, schedule_type, minutes) in SCHEDULES.items():
        Schedule.objects.get_or_create(
            name=name,
            defaults={"func": func, "schedule_type": schedule_type, "minutes": minutes, "repeats": -1},
        )


def remove_schedules(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name__in=SCHEDULES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0005_search_trigram_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="report",
            name="times_queued",
            field=models.PositiveSmallIntegerField(default=1, editable=False),
        ),
        migrations.RunPython(create_schedules, remove_schedules),
    ]
