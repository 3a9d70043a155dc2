"""The API's `filterBy` grammar (Run:ai's): `field operator value` conditions, comma-separated,
all of which must hold.

Fields: name, createdAt, createdBy, status. Operators: == equals, != does not equal, <= and >=,
=@ contains, !@ does not contain, =^ starts with, =$ ends with. createdAt takes ISO 8601 times
or dates (a date is the whole UTC day) with ==, !=, <= and >= only.

Clients join several conditions with commas and do not escape commas inside a value, so a piece
that does not begin with a field and an operator belongs to the value before it."""

import re
from datetime import UTC, date, datetime, time, timedelta

from django.db.models import Q

from reports.models import ReportStatus

# The API's names of the report's fields that filterBy and sortBy take, and the model's.
FIELDS = {"name": "name", "createdAt": "created_at", "createdBy": "created_by", "status": "status"}
OPERATORS = ("==", "!=", "<=", ">=", "=@", "!@", "=^", "=$")
TIME_OPERATORS = ("==", "!=", "<=", ">=")
_CONDITION = re.compile(
    r"^(?P<field>{})(?P<operator>{})(?P<value>.*)$".format(
        "|".join(FIELDS), "|".join(re.escape(operator) for operator in OPERATORS)
    ),
    re.DOTALL,
)
_TEXT_LOOKUPS = {"=@": "icontains", "!@": "icontains", "=^": "istartswith", "=$": "iendswith"}


class FilterError(ValueError):
    """A filterBy condition that cannot be understood; the message says why."""


def parse_filter_by(raw: list[str]) -> Q:
    """The conditions of one or more filterBy parameters, as one Q that all must match."""
    conditions = []
    for parameter in raw:
        # Each parameter is a list of its own: a value never runs on into the next parameter.
        pieces = []
        for piece in parameter.split(","):
            if pieces and not _CONDITION.match(piece):
                pieces[-1] += "," + piece  # a comma inside the previous value
            else:
                pieces.append(piece)
        conditions += pieces
    query = Q()
    for condition in conditions:
        if condition == "":
            continue
        query &= _condition(condition)
    return query


def _condition(condition: str) -> Q:
    if "\x00" in condition:
        raise FilterError("filterBy cannot contain null characters.")
    match = _CONDITION.match(condition)
    if not match:
        raise FilterError(
            f"filterBy condition {condition!r} is not 'field operator value'; fields are "
            f"{', '.join(FIELDS)}, operators {' '.join(OPERATORS)}."
        )
    field, operator, value = match["field"], match["operator"], match["value"]
    if value == "":
        raise FilterError(f"filterBy condition {condition!r} has no value.")
    if field == "createdAt":
        return _time_condition(condition, operator, value)
    if field == "status" and operator in ("==", "!=") and value not in ReportStatus.values:
        raise FilterError(
            f"filterBy condition {condition!r}: status is one of {', '.join(ReportStatus.values)}."
        )
    column = FIELDS[field]
    if operator in _TEXT_LOOKUPS:
        query = Q(**{f"{column}__{_TEXT_LOOKUPS[operator]}": value})
        return ~query if operator == "!@" else query
    return _compare(column, operator, value)


def _compare(column: str, operator: str, value) -> Q:
    if operator == "==":
        return Q(**{column: value})
    if operator == "!=":
        return ~Q(**{column: value})
    return Q(**{f"{column}__{'lte' if operator == '<=' else 'gte'}": value})


def _time_condition(condition: str, operator: str, value: str) -> Q:
    if operator not in TIME_OPERATORS:
        raise FilterError(
            f"filterBy condition {condition!r}: createdAt takes {', '.join(TIME_OPERATORS)}."
        )
    moment = _parse_time(value)
    if moment is None:
        raise FilterError(
            f"filterBy condition {condition!r}: {value!r} is not an ISO 8601 date or time, "
            "e.g. 2026-03-01 or 2026-03-01T09:30:00Z."
        )
    try:
        if isinstance(moment, datetime):
            return _compare("created_at", operator, moment.astimezone(UTC))
        # A date is the whole UTC day.
        first = datetime.combine(moment, time(0), tzinfo=UTC)
        next_day = first + timedelta(days=1)
    except OverflowError:  # e.g. 9999-12-31, or 0001-01-01T00:00+02:00, in UTC
        raise FilterError(
            f"filterBy condition {condition!r}: {value!r} is out of range in UTC."
        ) from None
    day = Q(created_at__gte=first, created_at__lt=next_day)
    return {
        "==": day,
        "!=": ~day,
        "<=": Q(created_at__lt=next_day),
        ">=": Q(created_at__gte=first),
    }[operator]


def _parse_time(value: str) -> datetime | date | None:
    text = value.strip()
    try:
        return date.fromisoformat(text)  # any ISO date (20260301, 2026-W10-1 too): a whole day
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
