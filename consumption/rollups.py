"""Daily rollups, recomputed from the raw samples whenever samples are written.

A sample lasts at most one day, so it overlaps at most two UTC days: the day it starts in, and the
next one when it runs past midnight. Each day's rollup holds amount × seconds of overlap with that
day, summed per project and node pool; recomputing a (project, day range) from the samples is
idempotent and exact, so a replaced sample can never be counted twice.
"""

from collections.abc import Iterable

from django.db import connection

from .measures import MEASURES, SUMS
from .models import DAY_SECONDS, UsageRollup, UsageSample

# Each rollup column's sum of amount × seconds, over the alias `o` (overlap in seconds).
_ROLLUP_SUMS = dict(zip(SUMS, (sql for m in MEASURES for sql in m.sql()), strict=True))
_AMOUNTS = ", ".join(m.amount for m in MEASURES)
# Projects per statement: keeps the parameter count far below every database's limit.
_CHUNK = 500


def refresh_around(touched: Iterable[tuple[int, int]]) -> None:
    """Recompute the rollups of the days that samples starting on these (project id, day) pairs
    can reach: from each project's first such day to the day after its last (a sample, or the
    one it replaced, may run past midnight). Projects over the same days go together."""
    days: dict[int, tuple[int, int]] = {}
    for project_id, day in touched:
        first, last = days.get(project_id, (day, day))
        days[project_id] = (min(first, day), max(last, day))
    by_range: dict[tuple[int, int], list[int]] = {}
    for project_id, (first, last) in days.items():
        by_range.setdefault((first, last + 1), []).append(project_id)
    for (first, last), project_ids in by_range.items():
        refresh(project_ids, first, last)


def refresh(project_ids: Iterable[int], first_day: int, last_day: int) -> None:
    """Recompute the rollups of these projects for UTC days first_day..last_day (inclusive,
    counted from 1970-01-01) from their raw samples. Call it inside the transaction that wrote
    the samples."""
    ids = sorted(set(project_ids))
    for offset in range(0, len(ids), _CHUNK):
        chunk = ids[offset : offset + _CHUNK]
        UsageRollup.objects.filter(
            project_id__in=chunk, day__gte=first_day, day__lte=last_day
        ).delete()
        _insert(chunk, first_day, last_day)


def _insert(project_ids: list[int], first_day: int, last_day: int) -> None:
    least = "LEAST" if connection.vendor == "postgresql" else "MIN"
    samples = UsageSample._meta.db_table
    in_projects = f"project_id IN ({', '.join(['%s'] * len(project_ids))})"
    # A sample that started the day before first_day may run into it.
    window = "start_epoch >= %s AND start_epoch < %s"
    window_params = [(first_day - 1) * DAY_SECONDS, (last_day + 1) * DAY_SECONDS]
    next_midnight = f"(start_epoch / {DAY_SECONDS} + 1) * {DAY_SECONDS}"
    columns = ", ".join(_ROLLUP_SUMS)
    sql = f"""
        INSERT INTO {UsageRollup._meta.db_table}
            (project_id, nodepool_id, day, {columns})
        SELECT project_id, nodepool_id, day, {", ".join(_ROLLUP_SUMS.values())}
        FROM (
            SELECT project_id, nodepool_id, start_epoch / {DAY_SECONDS} AS day,
                   {least}(start_epoch + duration_seconds, {next_midnight}) - start_epoch AS o,
                   {_AMOUNTS}
            FROM {samples}
            WHERE {in_projects} AND {window}
            UNION ALL
            SELECT project_id, nodepool_id, start_epoch / {DAY_SECONDS} + 1 AS day,
                   start_epoch + duration_seconds - {next_midnight} AS o,
                   {_AMOUNTS}
            FROM {samples}
            WHERE {in_projects} AND {window}
              AND start_epoch + duration_seconds > {next_midnight}
        ) AS parts
        WHERE day >= %s AND day <= %s
        GROUP BY project_id, nodepool_id, day
    """
    params = [*project_ids, *window_params, *project_ids, *window_params, first_day, last_day]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
