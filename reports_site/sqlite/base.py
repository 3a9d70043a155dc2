"""Django's SQLite backend, with `unicode_lower()` on every connection and the case-insensitive
lookups (`iexact`, `icontains`, `istartswith`, `iendswith`) folding every letter with it, as
PostgreSQL's do. Indexes and generated columns may use the function (it is deterministic); a
client without it (the sqlite3 shell) can read them but not write the rows they cover."""

from django.db.backends.sqlite3 import base, operations

from reports_site.unicode import lower

_FOLDED = ("iexact", "icontains", "istartswith", "iendswith")


class DatabaseOperations(operations.DatabaseOperations):
    def lookup_cast(self, lookup_type, internal_type=None):
        if lookup_type in _FOLDED:
            return "unicode_lower(%s)"
        return super().lookup_cast(lookup_type, internal_type)


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
    operators = {
        **base.DatabaseWrapper.operators,
        **dict.fromkeys(_FOLDED, "LIKE unicode_lower(%s) ESCAPE '\\'"),
    }

    def get_new_connection(self, conn_params):
        connection = super().get_new_connection(conn_params)
        connection.create_function("unicode_lower", 1, lower, deterministic=True)
        return connection
