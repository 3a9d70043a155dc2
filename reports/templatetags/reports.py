from django import template

from reports import tables

register = template.Library()


@register.simple_tag
def status_badge(report) -> str:
    """The table's status badge, for pages outside the table."""
    return tables.status_badge(report)
