"""`make scale-check` in the suite: two web servers and two workers on PostgreSQL, Redis and an
S3-compatible server, one worker killed halfway (tests/scale_check.py)."""

import io

import pytest

from tests import scale_check


@pytest.mark.slow
def test_the_site_on_several_processes_loses_nothing(tmp_path):
    out = io.StringIO()
    outcome = scale_check.run(reports=200, work_dir=tmp_path, out=out)
    assert outcome.problems == [], out.getvalue()
    assert outcome.rescued > 0, "the killed worker held no report: nothing was tested"
