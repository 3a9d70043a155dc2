from datetime import datetime

MARCH = (datetime.fromisoformat("2026-03-01T00:00Z"), datetime.fromisoformat("2026-04-01T00:00Z"))
