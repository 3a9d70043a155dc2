"""The reports' schedules, created once, by name: the sweeper of stuck builds and retention."""

from django.db import migrations

SCHEDULES = {
    "reports: sweep stuck builds": ("reports.tasks.sweep_stuck_builds", "I", 1),
    "reports: delete expired reports": ("reports.tasks.delete_expired_reports", "H", None),
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
        ("reports", "0001_reports"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedules, remove_schedules)]
