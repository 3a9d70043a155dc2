from django import template

from reports import tables

register = template.Library()


@register.simple_tag
def status_badge(report) -> str:
    """The table's status badge, for pages outside the table."""
    return tables.status_badge(report)


@register.simple_tag
def run_badge(status) -> str:
    """A schedule run's status as a badge, as the Schedules table shows it."""
    return tables.run_badge(status)


@register.simple_tag
def delivery_badge(delivery) -> str:
    """A delivery's status as a badge, its last error beneath it."""
    return tables.delivery_badge(delivery)


@register.simple_tag
def local_time(moment, zone: str) -> str:
    """A moment as a time zone reads it, the zone named."""
    return tables.local_time(moment, zone)
