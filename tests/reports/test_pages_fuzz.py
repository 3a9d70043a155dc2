"""Every page under /analytics/reports/ and /accounts/, sent arbitrary input by a logged-in user
(and the login page by anyone): whatever arrives, the answer is never a server error."""

from collections import Counter
from contextlib import contextmanager
from urllib.parse import quote

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import reports.urls
from reports.filtersets import ReportFilterSet
from reports.forms import ReportForm
from reports.models import ReportStatus
from reports.services import create_report
from reports.tables import ReportTable
from tests.factories import TEST_PASSWORD
from tests.reports.conftest import MARCH, ready_report

LIST = reverse("reports:report_list")
LOGIN = reverse("login")
FORM = "application/x-www-form-urlencoded"

# Requests sent, by page: the total goes into the test run's output.
SENT: Counter = Counter()

fuzz = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

pytestmark = [pytest.mark.usefixtures("no_queue"), pytest.mark.django_db]

# --- What a hostile or careless user can type ---------------------------------------------

# Anything the test client can encode: every character but lone surrogates, NUL included.
text = st.text(st.characters(codec="utf-8"), max_size=40)
numbers = st.one_of(
    st.integers().map(str),
    st.sampled_from(["0", "-1", "2147483648", "9223372036854775808", "1e400", "nan", "-0", "1.5"]),
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
)
edge_days = st.sampled_from(
    [
        "0001-01-01",
        "0001-01-02",
        "9999-12-30",
        "9999-12-31",
        "0000-00-00",
        "2026-02-30",
        "10000-01-01",
    ]
)
days = st.one_of(st.dates().map(str), edge_days)
offsets = st.sampled_from(["", "Z", "+00:00", "+05:00", "-05:00", "+23:59", "-23:59", "+99:99"])
moments = st.builds(
    lambda day, moment, offset: f"{day}T{moment}{offset}", days, st.times().map(str), offsets
)
urlish = st.sampled_from(
    [
        "/",
        LIST,
        f"{LIST}?q=x&page=2",
        "//evil.example/",
        "http://evil.example/",
        "http://testserver/analytics/reports/",
        "https://testserver/",
        "javascript:alert(1)",
        "/\\evil.example",
        "\\\\evil.example",
        "reports:report_list",
        "foo",
        "0",
        "%FF",
        "/%FF",
        "/\r\nSet-Cookie: x=1",
        "data:text/html,x",
        LOGIN,
    ]
)
values = st.one_of(text, numbers, days, moments, urlish)
# Percent-escapes that decode to nothing valid, and the separators around them.
raw_pieces = st.sampled_from(
    ["%FF", "%00", "%ED%A0%80", "%C3%28", "%", "%Z", "%%", "+", "&", "=", ";", "\\", "ÿ", "é"]
)
content_types = st.sampled_from(
    [
        FORM,
        f"{FORM}; charset=latin-1",
        f"{FORM}; charset=utf-16",
        f"{FORM}; charset=no-such-codec",
        "multipart/form-data; boundary=BoUnDaRy",
        "multipart/form-data",
        "application/json",
        "text/plain",
    ]
)


def raw_body(fields: list[str]):
    """The bytes of a urlencoded body (or query string): known names, junk and broken escapes,
    or any bytes at all."""
    piece = st.one_of(st.sampled_from(fields), raw_pieces, text.map(quote))
    return st.one_of(
        st.lists(piece, max_size=12).map(lambda pieces: "".join(pieces).encode()),
        st.binary(max_size=60),
    )


def params(fields: list[str], value=values):
    """A query or form: known names and junk ones, each with a few values."""
    return st.dictionaries(
        st.one_of(st.sampled_from(fields), text), st.lists(value, max_size=3), max_size=6
    )


# --- The site, and sending to it ------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def requests_sent(pytestconfig):
    """Say how many requests the fuzz sent (the count is the evidence of how hard it tried)."""
    yield SENT
    by_page = ", ".join(f"{page} {count}" for page, count in sorted(SENT.items()))
    plugins = pytestconfig.pluginmanager
    # Past the output capture, so that the count shows with or without -s.
    with plugins.get_plugin("capturemanager").global_and_fixture_disabled():
        reporter = plugins.get_plugin("terminalreporter")
        reporter.write_line("")  # off the line of progress dots
        reporter.write_line(f"pages fuzz: {SENT.total()} requests sent ({by_page})")


@pytest.fixture
def site(viewer, usage):
    """Acme with reports in every state: two Ready, one Pending, one Failed."""
    reports = [
        ready_report(viewer, "March GPUs"),
        ready_report(viewer, "=March: clusters", group_by="Cluster", description='x,y\n"z"'),
        create_report(viewer, name="Still waiting", start=MARCH[0], end=MARCH[1]),
        create_report(viewer, name="Broken", start=MARCH[0], end=MARCH[1]),
    ]
    reports[3].status, reports[3].status_message = ReportStatus.FAILED, "<b>no</b>"
    reports[3].save()
    return [str(report.pk) for report in reports]


@pytest.fixture
def browser(viewer):
    """alice, logged in; a server error comes back as a 500 response, not as an exception."""
    client = Client(raise_request_exception=False)
    client.force_login(viewer)
    return client


@contextmanager
def rolled_back():
    """Each example starts from the same reports (a delete in one must not empty the next)."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def send(client: Client, page: str, method: str, *args, logged_in: bool = True, **kwargs):
    """One request, by a method of the client (`generic` sends bytes as they are); with
    logged_in, the page must have seen the logged-in user, not answered before looking."""
    SENT[page] += 1
    response = getattr(client, method)(*args, **kwargs)
    # A failure while streaming a download counts as much as one before it.
    # (The client closes the response itself, once its content is read.)
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert response.status_code < 500, (method, args, kwargs, body[:2000])
    if logged_in:
        assert response.wsgi_request.user.is_authenticated, (method, args, kwargs)
    return response


def ids(site):
    """A selection: real reports of every state (alone, so that the action is reached), or
    mixed with unknown ones and junk."""
    mixed = st.one_of(st.sampled_from(site), st.uuids().map(str), values)
    return st.one_of(
        st.lists(st.sampled_from(site), min_size=1, max_size=4), st.lists(mixed, max_size=4)
    )


def htmx():
    return st.sampled_from([{}, {"HX-Request": "true"}])


LIST_FIELDS = [*ReportFilterSet.base_filters, "sort", "page", "per_page"]
SORTS = st.sampled_from(
    [f"{sign}{column.name}" for column in ReportTable(()).columns.all() for sign in ("", "-")]
)
STATUSES = st.sampled_from(ReportStatus.values)
COLUMNS = [name for name, _ in ReportTable.optional_columns()]
FORM_FIELDS = list(ReportForm.base_fields)
# The table's actions on the selected reports.
SELECTION_PAGES = [
    "report_delete",
    "report_download_selected",
    "report_run_again",
    "report_duplicate",
]
# Every page of reports.urls, and whether its URL names a report.
PAGES = {
    "report_list": False,
    "report_create": False,
    "report_columns": False,
    "report_download_selected": False,
    "report_delete": False,
    "report_run_again": False,
    "report_duplicate": False,
    "report_detail": True,
    "report_row": True,
    "report_status": True,
    "report_download": True,
}
VALID_FORM = {
    "name": "Fuzzed",
    "start_date": "2026-03-01",
    "end_date": "2026-03-31",
    "group_by": "Project",
}
SELECTION_FIELDS = ["ids", "next", "confirm"]
COLUMN_FIELDS = ["columns", "reset", "next"]


# --- The pages --------------------------------------------------------------------------------


def test_every_page_of_reports_is_fuzzed():
    assert set(PAGES) == {pattern.name for pattern in reports.urls.urlpatterns}


class TestReportList:
    @fuzz
    @given(
        query=params(
            LIST_FIELDS,
            st.one_of(values, SORTS, STATUSES, st.integers(-2, 12).map(str), st.just("last")),
        ),
        columns=st.none() | st.lists(st.sampled_from(COLUMNS)),
        count_limit=st.sampled_from([1, 3, 1000]),
        headers=htmx(),
    )
    def test_any_query(self, browser, site, monkeypatch, query, columns, count_limit, headers):
        # A low limit, so that a capped count, the pages past it and the pages read from the far
        # end of the few reports here are reached too.
        monkeypatch.setattr("reports.views.SEARCH_COUNT_LIMIT", count_limit)
        monkeypatch.setattr("reports.views.COUNT_LIMIT", count_limit)
        with rolled_back():
            if columns is not None:
                url = reverse("reports:report_columns")
                send(browser, "report_columns", "post", url, data={"columns": columns})
            send(browser, "report_list", "get", LIST, data=query, headers=headers)

    @fuzz
    @given(raw=raw_body(LIST_FIELDS))
    def test_any_raw_query_string(self, browser, site, raw):
        # WSGI hands the query string over as bytes read as latin-1.
        send(browser, "report_list", "generic", "GET", LIST, QUERY_STRING=raw.decode("latin-1"))


class TestOneReport:
    @fuzz
    @given(
        data=st.data(),
        page=st.sampled_from(["report_detail", "report_row", "report_status", "report_download"]),
        query=params(["page", "sort", "next"]),
    )
    def test_any_report_and_query(self, browser, site, data, page, query):
        report_id = data.draw(st.one_of(st.sampled_from(site), st.uuids().map(str)))
        url = reverse(f"reports:{page}", args=[report_id])
        send(browser, page, "get", url, data=query)

    @fuzz
    @given(segment=text, tail=st.sampled_from(["", "row/", "status/", "download/", "x/"]))
    def test_any_path(self, browser, site, segment, tail):
        send(browser, "other paths", "get", f"{LIST}{quote(segment, safe='')}/{tail}")


class TestColumns:
    @fuzz
    @given(
        form=params(COLUMN_FIELDS, st.one_of(values, st.sampled_from(COLUMNS))),
    )
    def test_any_form(self, browser, site, form):
        with rolled_back():
            send(browser, "report_columns", "post", reverse("reports:report_columns"), data=form)

    @fuzz
    @given(raw=raw_body(COLUMN_FIELDS), content_type=content_types)
    def test_any_body(self, browser, site, raw, content_type):
        with rolled_back():
            url = reverse("reports:report_columns")
            send(browser, "report_columns", "generic", "POST", url, raw, content_type)


class TestCreate:
    @fuzz
    @given(data=st.data(), query=params([*FORM_FIELDS, "from"]))
    def test_any_query(self, browser, site, data, query):
        # Duplicate: `from` names a report, often one that exists.
        if data.draw(st.booleans()):
            query = {**query, "from": data.draw(st.sampled_from(site))}
        send(browser, "report_create", "get", reverse("reports:report_create"), data=query)

    @fuzz
    @given(
        form=params(
            FORM_FIELDS, st.one_of(values, st.sampled_from(["Project", "Cluster", "vision"]))
        ),
        complete=st.booleans(),
    )
    def test_any_form(self, browser, site, form, complete):
        if complete:
            # Half of the forms start from a valid one, so that the service's rules are reached.
            form = {**VALID_FORM, **form}
        with rolled_back():
            send(browser, "report_create", "post", reverse("reports:report_create"), data=form)

    @fuzz
    @given(raw=raw_body(FORM_FIELDS), content_type=content_types)
    def test_any_body(self, browser, site, raw, content_type):
        with rolled_back():
            url = reverse("reports:report_create")
            send(browser, "report_create", "generic", "POST", url, raw, content_type)


class TestSelectionActions:
    @fuzz
    @given(
        data=st.data(),
        page=st.sampled_from(SELECTION_PAGES),
        form=params(SELECTION_FIELDS),
        confirm=st.booleans(),
        headers=htmx(),
    )
    def test_any_selection(self, browser, site, data, page, form, confirm, headers):
        form = {**form, "ids": data.draw(ids(site))}
        if confirm:
            form["confirm"] = "1"
        with rolled_back():
            send(browser, page, "post", reverse(f"reports:{page}"), data=form, headers=headers)

    @fuzz
    @given(
        page=st.sampled_from(SELECTION_PAGES),
        raw=raw_body(SELECTION_FIELDS),
        content_type=content_types,
    )
    def test_any_body(self, browser, site, page, raw, content_type):
        with rolled_back():
            url = reverse(f"reports:{page}")
            send(browser, page, "generic", "POST", url, raw, content_type)


class TestAnyMethod:
    @fuzz
    @given(
        data=st.data(),
        method=st.sampled_from(
            ["GET", "POST", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]
        ),
    )
    def test_any_method_on_any_page(self, browser, site, data, method):
        report_id = data.draw(st.sampled_from(site))
        page = data.draw(st.sampled_from(list(PAGES)))
        url = reverse(f"reports:{page}", args=[report_id] if PAGES[page] else [])
        send(browser, page, "generic", method, url)


class TestAccounts:
    @pytest.fixture(autouse=True)
    def throttled(self, settings):
        # Logins are throttled in production; the test settings turn that off.
        settings.AXES_ENABLED = True

    @fuzz
    @given(
        form=params(
            ["username", "password", "next"],
            st.one_of(
                values, st.sampled_from(["alice@acme.example", "ALICE@acme.example", TEST_PASSWORD])
            ),
        ),
        logged_in=st.booleans(),
        address=st.sampled_from(["203.0.113.7", "2001:db8::1", ""]),
    )
    def test_any_login(self, viewer, form, logged_in, address):
        client = Client(raise_request_exception=False)
        if logged_in:
            client.force_login(viewer)
        with rolled_back():
            send(client, "login", "get", LOGIN, logged_in=False, data=form, REMOTE_ADDR=address)
            send(client, "login", "post", LOGIN, logged_in=False, data=form, REMOTE_ADDR=address)

    @fuzz
    @given(raw=raw_body(["username", "password", "next", "alice@acme.example"]), ct=content_types)
    def test_any_login_body(self, viewer, raw, ct):
        client = Client(raise_request_exception=False)
        with rolled_back():
            send(client, "login", "generic", "POST", LOGIN, raw, ct, logged_in=False)

    @fuzz
    @given(form=params(["next"]), method=st.sampled_from(["get", "post"]))
    def test_any_logout(self, viewer, form, method):
        client = Client(raise_request_exception=False)
        client.force_login(viewer)
        with rolled_back():
            send(client, "logout", method, reverse("logout"), logged_in=False, data=form)
