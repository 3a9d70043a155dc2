"""Django's SQLite backend with letter case done as on PostgreSQL (see reports_site.unicode)."""
