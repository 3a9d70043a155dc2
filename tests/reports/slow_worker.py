"""A real qcluster whose report builds first pause for SLOW_BUILD_SECONDS, so that a test can
kill a worker in the middle of a build; with the argument `run_worker`, the same cluster kept
by `run_worker`. Run as a script, with the test's database settings."""

import os
import sys
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reports_site.settings")
django.setup()

from django.core.management import call_command  # noqa: E402

import reports.tasks  # noqa: E402
from reports.management.commands import run_worker  # noqa: E402

real_build = reports.tasks._build


def slow_build(report):
    time.sleep(float(os.environ.get("SLOW_BUILD_SECONDS", "60")))
    return real_build(report)


reports.tasks._build = slow_build  # the workers are forked, and keep this
if sys.argv[1:] == ["run_worker"]:
    run_worker.QCLUSTER = [sys.executable, "-m", "tests.reports.slow_worker"]
    call_command("run_worker")
else:
    call_command("qcluster")
