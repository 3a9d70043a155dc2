"""Deliveries of the reports of report schedules, their targets, and the django-q2 schedule,
created once by name, that sends the due ones every minute."""

import django.core.validators
import django.db.models.deletion
import django.utils.timezone
import reports.models
from django.db import migrations, models

NAME = "reports: send report deliveries"


def create_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.get_or_create(
        name=NAME,
        defaults={
            "func": "reports.tasks.sweep_deliveries",
            "schedule_type": "I",
            "minutes": 1,
            "repeats": -1,
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):

    dependencies = [
        ('reports', '0015_report_schedules'),
    ]

    operations = [
        migrations.CreateModel(
            name='DeliveryTarget',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('email', 'E-mail'), ('webhook', 'Webhook'), ('storage', 'Object storage')], max_length=10)),
                ('recipients', models.JSONField(blank=True, default=list, help_text='E-mail: the addresses, e.g. ["ops@example.com"].', validators=[reports.models.validate_recipients])),
                ('url', models.URLField(blank=True, help_text='Webhook: where the JSON is POSTed.', max_length=2000, validators=[django.core.validators.URLValidator(schemes=['http', 'https'])], verbose_name='URL')),
                ('secret', models.CharField(default=reports.models.new_webhook_secret, editable=False, help_text='Webhook: the key of the X-Signature-256 HMAC of each body.', max_length=64)),
                ('prefix', models.CharField(blank=True, help_text='Object storage: files go under <prefix>/<year>/<month>/.', max_length=200, validators=[reports.models.validate_key_prefix], verbose_name='key prefix')),
                ('enabled', models.BooleanField(default=True, help_text='Reports made from now on are sent.')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                ('schedule', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='targets', to='reports.reportschedule')),
            ],
            options={
                'ordering': ['schedule', 'created_at', 'pk'],
            },
        ),
        migrations.CreateModel(
            name='Delivery',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('status', models.CharField(choices=[('Pending', 'Pending'), ('Delivered', 'Delivered'), ('Failed', 'Failed')], default='Pending', max_length=10)),
                ('attempts', models.PositiveSmallIntegerField(default=0)),
                ('last_error', models.TextField(blank=True, verbose_name='last error')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                ('delivered_at', models.DateTimeField(blank=True, null=True, verbose_name='delivered at')),
                ('next_attempt_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('report', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='deliveries', to='reports.report')),
                ('target', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='deliveries', to='reports.deliverytarget')),
            ],
            options={
                'verbose_name_plural': 'deliveries',
                'ordering': ['created_at', 'pk'],
                'indexes': [models.Index(fields=['status', 'next_attempt_at'], name='delivery_by_due')],
                'constraints': [models.UniqueConstraint(fields=('report', 'target'), name='delivery_once_per_target')],
            },
        ),
        migrations.RunPython(create_schedule, remove_schedule),
    ]
