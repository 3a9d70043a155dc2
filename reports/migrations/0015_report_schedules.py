"""Report schedules and their runs, and the django-q2 schedule, created once by name, that makes
the reports of their due periods every minute."""

import consumption.buckets
import datetime
import django.core.validators
import django.db.models.deletion
import django.utils.timezone
import reports.models
import reports_site.unicode
import uuid
from django.conf import settings
from django.db import migrations, models

NAME = "reports: run report schedules"


def create_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.get_or_create(
        name=NAME,
        defaults={
            "func": "reports.tasks.run_report_schedules",
            "schedule_type": "I",
            "minutes": 1,
            "repeats": -1,
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):

    dependencies = [
        ('reports', '0014_report_costs'),
        ('tenancy', '0003_token_failure'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [
        migrations.CreateModel(
            name='ReportSchedule',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('name', models.CharField(error_messages={'blank': 'Enter a name.', 'max_length': 'Use at most %(limit_value)d characters (this name has %(show_value)d).'}, max_length=250, validators=[reports.models.validate_name_characters])),
                ('name_key', models.GeneratedField(db_persist=True, expression=reports_site.unicode.UnicodeLower('name'), output_field=models.CharField(max_length=250))),
                ('description', models.TextField(blank=True, validators=[reports.models.validate_description_characters])),
                ('group_by', models.CharField(choices=[('Project', 'Project'), ('Department', 'Department'), ('Cluster', 'Cluster'), ('Nodepool', 'Nodepool'), ('Workload', 'Workload')], default='Project', error_messages={'invalid_choice': 'Choose one of Project, Department, Cluster, Nodepool, Workload.'}, max_length=20, verbose_name='segment by')),
                ('bucket', models.CharField(blank=True, choices=[('Day', 'Day'), ('Week', 'Week'), ('Month', 'Month')], default='', max_length=10, verbose_name='rows per')),
                ('time_zone', models.CharField(default='UTC', help_text='The IANA zone whose days, weeks and months the buckets are.', max_length=64, validators=[consumption.buckets.validate_time_zone], verbose_name='time zone')),
                ('costs', models.BooleanField(default=False, help_text="Add cost columns at the tenant's prices.", verbose_name='with costs')),
                ('filter_by', models.JSONField(blank=True, default=list, help_text='e.g. ["projectName==a"]', validators=[reports.models.validate_filters], verbose_name='filters')),
                ('frequency', models.CharField(choices=[('daily', 'Daily'), ('weekly', 'Weekly'), ('monthly', 'Monthly'), ('quarterly', 'Quarterly')], default='monthly', max_length=10)),
                ('weekday', models.PositiveSmallIntegerField(blank=True, choices=[(0, 'Monday'), (1, 'Tuesday'), (2, 'Wednesday'), (3, 'Thursday'), (4, 'Friday'), (5, 'Saturday'), (6, 'Sunday')], help_text='Weekly: the day each week starts on.', null=True)),
                ('day_of_month', models.PositiveSmallIntegerField(blank=True, help_text="Monthly: the day each month starts on (past a month's end: its last day).", null=True, validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(31)], verbose_name='day of the month')),
                ('schedule_time_zone', models.CharField(default='UTC', help_text='The IANA zone whose days the periods are made of, and of the run time.', max_length=64, validators=[consumption.buckets.validate_time_zone], verbose_name="schedule's time zone")),
                ('run_at', models.TimeField(default=datetime.time(6, 0), help_text='The local time, on the day after a period, at which its report is made.', verbose_name='run at')),
                ('name_template', models.CharField(default='{name} {period}', help_text="{name} is the schedule's name, {period} the period's, such as 2026-11.", max_length=250, validators=[reports.models.validate_name_template], verbose_name='names of its reports')),
                ('keep_last', models.PositiveSmallIntegerField(default=12, help_text='The reports it made beyond this many, oldest first, are deleted.', validators=[django.core.validators.MinValueValidator(1)], verbose_name='reports kept')),
                ('catch_up_limit', models.PositiveSmallIntegerField(default=3, help_text='After the scheduler was down: how many of the latest missed periods are made.', validators=[django.core.validators.MinValueValidator(1)], verbose_name='periods caught up')),
                ('paused', models.BooleanField(default=False)),
                ('paused_reason', models.TextField(blank=True)),
                ('active_since', models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                ('owner_name', models.CharField(blank=True, editable=False, max_length=254, verbose_name='owner')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False, verbose_name='creation time')),
                ('owner_service_account', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='tenancy.serviceaccount')),
                ('owner_user', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='report_schedules', to='tenancy.tenant')),
            ],
            options={
                'ordering': ['tenant', 'name_key'],
            },
        ),
        migrations.CreateModel(
            name='ScheduleRun',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('period_start', models.DateTimeField(help_text='UTC, included.')),
                ('period_end', models.DateTimeField(help_text='UTC, excluded.')),
                ('period_label', models.CharField(max_length=50, verbose_name='period')),
                ('on_demand', models.BooleanField(default=False, verbose_name='run now')),
                ('repeat', models.BooleanField(default=False)),
                ('status', models.CharField(choices=[('Made', 'Made'), ('Failed', 'Failed'), ('Skipped', 'Skipped')], max_length=10)),
                ('message', models.TextField(blank=True)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                ('report', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='schedule_runs', to='reports.report')),
                ('schedule', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='runs', to='reports.reportschedule')),
            ],
            options={
                'ordering': ['-period_start', '-created_at'],
            },
        ),
        migrations.AddConstraint(
            model_name='reportschedule',
            constraint=models.UniqueConstraint(fields=('tenant', 'name_key'), name='report_schedule_name_unique_in_tenant', violation_error_message='Another schedule of the tenant has this name.'),
        ),
        migrations.AddConstraint(
            model_name='reportschedule',
            constraint=models.CheckConstraint(condition=models.Q(('owner_user__isnull', True), ('owner_service_account__isnull', True), _connector='OR'), name='report_schedule_one_owner'),
        ),
        migrations.AddConstraint(
            model_name='schedulerun',
            constraint=models.UniqueConstraint(condition=models.Q(('repeat', False)), fields=('schedule', 'period_start'), name='schedule_run_once_per_period'),
        ),
        migrations.RunPython(create_schedule, remove_schedule),
    ]
