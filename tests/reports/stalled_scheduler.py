"""A scheduler that stops holding a claim: it runs the due report schedules as of the moment in
its argument and hangs in making the first report, after claiming the period and before
committing, once it has created the file $STALLED_MARKER, so that a test can kill it there. Run
as a script, with the test's database settings."""

import os
import sys
import time
from datetime import datetime
from pathlib import Path

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reports_site.settings")
django.setup()

from reports import scheduling  # noqa: E402


def stalled_create_report(*args, **kwargs):
    Path(os.environ["STALLED_MARKER"]).touch()
    time.sleep(600)


scheduling.create_report = stalled_create_report
scheduling.run_due_schedules(datetime.fromisoformat(sys.argv[1]))
