"""Background work of the consumption app, run by django-q2."""

from io import StringIO

from django.core.management import CommandError, call_command


def collect_usage() -> str:
    """Scheduled every 15 minutes: `collect_usage` for every enabled usage source. A source that
    fails has its error recorded on it and does not hold up the others; the next run resumes."""
    out = StringIO()
    try:
        call_command("collect_usage", stdout=out)
    except CommandError as error:
        return f"{out.getvalue()}{error}"
    return out.getvalue()
