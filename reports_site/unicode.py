"""Letter case that PostgreSQL and SQLite agree on.

SQLite's own `lower()` and `LIKE` fold ASCII letters only, so on SQLite "Отчёт" and "ОТЧЁТ" would
be two names, and a search for "отчёт" would miss "Отчёт"; PostgreSQL folds them all. Our SQLite
backend (`reports_site.sqlite`) gives every connection `unicode_lower()`, Python's `str.lower`,
and uses it for the case-insensitive lookups (`icontains` and the like); `UnicodeLower` is
`Lower` that uses it on SQLite.
"""

from django.db.models.functions import Lower


def lower(text: str | None) -> str | None:
    return None if text is None else text.lower()


class UnicodeLower(Lower):
    """LOWER() on PostgreSQL, `unicode_lower()` on SQLite: every letter folded on both."""

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, function="unicode_lower", **extra_context)
