"""filterBy on GET /api/v1/org-unit/reports and /count (spec 5): every field with every operator,
compared with an explicit queryset; conditions sent as runapy sends them; errors as 400s."""

from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from django.db.models import Q
from rest_framework.test import APIClient

from reports.api.filtering import FilterError, parse_filter_by
from reports.models import Report, ReportStatus
from reports.services import create_report
from tests.reports.conftest import MARCH

URL = "/api/v1/org-unit/reports"
COUNT_URL = "/api/v1/org-unit/reports/count"

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_queue")]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


# name: (creator, status, creation time). Names hold the grammar's own characters.
REPORTS = {
    "Alpha": ("alice", ReportStatus.READY, "2026-03-01T00:00:00Z"),
    "alpha beta": ("alice", ReportStatus.FAILED, "2026-03-01T23:59:59.999999Z"),
    "Costs, March": ("bob", ReportStatus.PENDING, "2026-03-02T00:00:00Z"),
    "a==b": ("robot", ReportStatus.PROCESSING, "2026-03-01T12:00:00Z"),
    "x=@y": ("robot", ReportStatus.READY, "2026-02-28T23:30:00Z"),
    "not!=this": ("alice", ReportStatus.READY, "2026-03-03T08:00:00Z"),
    "<=5 GPUs >=2": ("bob", ReportStatus.FAILED, "2026-03-03T09:00:00Z"),
    "Total $": ("robot", ReportStatus.PENDING, "2026-03-04T10:00:00Z"),
    "^top": ("alice", ReportStatus.PROCESSING, "2026-03-04T11:00:00Z"),
    "100% a_b": ("bob", ReportStatus.READY, "2026-03-05T12:00:00Z"),
    "MiXeD CaSe": ("alice", ReportStatus.READY, "2026-03-05T13:00:00Z"),
    "a,b,c": ("robot", ReportStatus.FAILED, "2026-03-06T14:00:00Z"),
    "spaced  out": ("bob", ReportStatus.PENDING, "2026-03-06T15:00:00Z"),
}


@pytest.fixture
def reports(viewer, researcher, robot, intruder, usage) -> dict[str, Report]:
    """acme's reports (by alice, bob and robot), and one of globex named like one of them."""
    creators = {"alice": viewer, "bob": researcher, "robot": robot}
    made = {}
    for name, (creator, status, created_at) in REPORTS.items():
        report = create_report(creators[creator], name=name, start=MARCH[0], end=MARCH[1])
        Report.objects.filter(pk=report.pk).update(status=status, created_at=at(created_at))
        made[name] = Report.objects.get(pk=report.pk)
    create_report(intruder, name="Alpha", start=MARCH[0], end=MARCH[1])
    return made


def sdk_query(*conditions: str) -> str:
    """The filterBy query string as runapy writes it: one parameter, joined, percent-encoded."""
    return "?filterBy=" + quote(",".join(conditions))


def listed(api: APIClient, query: str) -> list[str]:
    response = api.get(URL + query)
    assert response.status_code == 200, response.json()
    return [report["id"] for report in response.json()["reports"]]


def counted(api: APIClient, query: str) -> int:
    response = api.get(COUNT_URL + query)
    assert response.status_code == 200, response.json()
    return response.json()["count"]


def expected_ids(tenant, query: Q) -> list[str]:
    """What robot (Viewer throughout acme) should get, in the API's order."""
    found = Report.objects.filter(tenant=tenant).filter(query).order_by("created_at", "pk")
    return [str(pk) for pk in found.values_list("pk", flat=True)]


def names(ids: list[str]) -> set[str]:
    return set(Report.objects.filter(pk__in=ids).values_list("name", flat=True))


def assert_filters(api, tenant, conditions: list[str], query: Q) -> list[str]:
    """The list and the count for `conditions` both match the explicit queryset."""
    expected = expected_ids(tenant, query)
    sent = sdk_query(*conditions)
    assert listed(api, sent) == expected
    assert counted(api, sent) == len(expected)
    return expected


def assert_rejected(api, conditions: list[str], *fragments: str) -> str:
    """Both endpoints answer 400 with Run:ai's error body; the message holds each fragment."""
    sent = sdk_query(*conditions)
    for url in (URL, COUNT_URL):
        response = api.get(url + sent)
        assert response.status_code == 400
        body = response.json()
        assert set(body) == {"code", "message"} and body["code"] == 400
        for fragment in fragments:
            assert fragment in body["message"]
    return body["message"]


def day(text: str) -> Q:
    """The whole UTC day, written out."""
    first = at(f"{text}T00:00:00Z")
    return Q(created_at__gte=first, created_at__lt=first + timedelta(days=1))


# Every operator on every text field. Each case must pick some of acme's reports, not all.
TEXT_CASES = {
    # name
    "name==": (["name==Alpha"], Q(name="Alpha")),
    "name!=": (["name!=Alpha"], ~Q(name="Alpha")),
    "name<=": (["name<=B"], Q(name__lte="B")),
    "name>=": (["name>=a"], Q(name__gte="a")),
    "name=@": (["name=@alpha"], Q(name__icontains="alpha")),
    "name!@": (["name!@alpha"], ~Q(name__icontains="alpha")),
    "name=^": (["name=^a"], Q(name__istartswith="a")),
    "name=$": (["name=$Case"], Q(name__iendswith="case")),
    "name=@ ignores case": (["name=@MIXED"], Q(name__icontains="mixed")),
    "name=^ ignores case": (["name=^ALPHA"], Q(name__istartswith="alpha")),
    "name=$ ignores case": (["name=$BETA"], Q(name__iendswith="beta")),
    "name=@ space": (["name=@  "], Q(name__icontains="  ")),
    # createdBy
    "createdBy==": (["createdBy==sa:robot"], Q(created_by="sa:robot")),
    "createdBy!=": (["createdBy!=alice@acme.example"], ~Q(created_by="alice@acme.example")),
    "createdBy<=": (["createdBy<=b"], Q(created_by__lte="b")),
    "createdBy>=": (["createdBy>=bob@acme.example"], Q(created_by__gte="bob@acme.example")),
    "createdBy=@": (["createdBy=@@acme."], Q(created_by__icontains="@acme.")),
    "createdBy!@": (["createdBy!@alice"], ~Q(created_by__icontains="alice")),
    "createdBy=^": (["createdBy=^sa:"], Q(created_by__istartswith="sa:")),
    "createdBy=$": (["createdBy=$.example"], Q(created_by__iendswith=".example")),
    "createdBy=@ ignores case": (["createdBy=@ALICE"], Q(created_by__icontains="alice")),
    # status
    "status==": (["status==Ready"], Q(status=ReportStatus.READY)),
    "status!=": (["status!=Ready"], ~Q(status=ReportStatus.READY)),
    "status<=": (["status<=Pending"], Q(status__lte="Pending")),
    "status>=": (["status>=Processing"], Q(status__gte="Processing")),
    "status=@": (["status=@ai"], Q(status__icontains="ai")),
    "status!@": (["status!@in"], ~Q(status__icontains="in")),
    "status=^": (["status=^pro"], Q(status__istartswith="pro")),
    "status=$": (["status=$ING"], Q(status__iendswith="ing")),
}


# createdAt: times with Z and with an offset, and dates (the whole UTC day).
TIME_CASES = {
    "== time Z": (["createdAt==2026-03-01T12:00:00Z"], Q(created_at=at("2026-03-01T12:00Z"))),
    "== time offset": (
        ["createdAt==2026-03-01T14:00:00+02:00"],
        Q(created_at=at("2026-03-01T12:00Z")),
    ),
    "== time with microseconds": (
        ["createdAt==2026-03-01T23:59:59.999999Z"],
        Q(created_at=at("2026-03-01T23:59:59.999999Z")),
    ),
    "!= time Z": (["createdAt!=2026-03-01T12:00:00Z"], ~Q(created_at=at("2026-03-01T12:00Z"))),
    "!= time offset": (
        ["createdAt!=2026-03-01T14:00:00+02:00"],
        ~Q(created_at=at("2026-03-01T12:00Z")),
    ),
    "<= time Z": (
        ["createdAt<=2026-03-01T00:00:00Z"],
        Q(created_at__lte=at("2026-03-01T00:00Z")),
    ),
    "<= time offset": (
        ["createdAt<=2026-03-01T02:00:00+02:00"],
        Q(created_at__lte=at("2026-03-01T00:00Z")),
    ),
    "<= time, negative offset": (
        ["createdAt<=2026-03-03T05:00:00-03:00"],
        Q(created_at__lte=at("2026-03-03T08:00Z")),
    ),
    ">= time Z": (
        ["createdAt>=2026-03-04T10:00:00Z"],
        Q(created_at__gte=at("2026-03-04T10:00Z")),
    ),
    ">= time offset": (
        ["createdAt>=2026-03-04T12:00:00+02:00"],
        Q(created_at__gte=at("2026-03-04T10:00Z")),
    ),
    ">= time lower-case z": (
        ["createdAt>=2026-03-04T10:00:00z"],
        Q(created_at__gte=at("2026-03-04T10:00Z")),
    ),
    ">= time without offset is UTC": (
        ["createdAt>=2026-03-04T10:00:00"],
        Q(created_at__gte=at("2026-03-04T10:00Z")),
    ),
    "== date": (["createdAt==2026-03-01"], day("2026-03-01")),
    "== basic-format date": (["createdAt==20260301"], day("2026-03-01")),
    "!= date": (["createdAt!=2026-03-01"], ~day("2026-03-01")),
    "<= date includes the whole day": (
        ["createdAt<=2026-03-01"],
        Q(created_at__lt=at("2026-03-02T00:00Z")),
    ),
    ">= date includes the whole day": (
        ["createdAt>=2026-03-02"],
        Q(created_at__gte=at("2026-03-02T00:00Z")),
    ),
}


class TestEveryOperator:
    @pytest.mark.parametrize("conditions, query", TEXT_CASES.values(), ids=TEXT_CASES.keys())
    def test_text_fields_match_an_explicit_queryset(self, api, tenant, reports, conditions, query):
        expected = assert_filters(api, tenant, conditions, query)
        assert 0 < len(expected) < len(reports)

    @pytest.mark.parametrize("conditions, query", TIME_CASES.values(), ids=TIME_CASES.keys())
    def test_created_at_matches_an_explicit_queryset(self, api, tenant, reports, conditions, query):
        expected = assert_filters(api, tenant, conditions, query)
        assert 0 < len(expected) < len(reports)

    def test_equals_is_exact_and_keeps_case(self, api, tenant, reports):
        assert assert_filters(api, tenant, ["name==alpha"], Q(name="alpha")) == []
        assert assert_filters(api, tenant, ["status==Ready"], Q(status="Ready")) == [
            str(reports[name].pk)
            for name in ("x=@y", "Alpha", "not!=this", "100% a_b", "MiXeD CaSe")
        ]

    def test_a_date_is_the_whole_utc_day_and_no_more(self, api, tenant, reports):
        # 1 March 00:00 and 23:59:59.999999 are in; 28 February 23:30 and 2 March 00:00 are not.
        result = assert_filters(api, tenant, ["createdAt==2026-03-01"], day("2026-03-01"))
        assert names(result) == {"Alpha", "alpha beta", "a==b"}
        before = assert_filters(
            api, tenant, ["createdAt<=2026-03-01"], Q(created_at__lt=at("2026-03-02T00:00Z"))
        )
        assert names(before) == {"Alpha", "alpha beta", "a==b", "x=@y"}
        after = assert_filters(
            api, tenant, ["createdAt>=2026-03-01"], Q(created_at__gte=at("2026-03-01T00:00Z"))
        )
        assert "x=@y" not in names(after) and "Alpha" in names(after)

    def test_an_offset_moves_the_moment_not_the_day(self, api, tenant, reports):
        # 02:00 at +02:00 is midnight UTC: Alpha, created then, is on the boundary and included.
        result = assert_filters(
            api,
            tenant,
            ["createdAt<=2026-03-01T02:00:00+02:00"],
            Q(created_at__lte=at("2026-03-01T00:00Z")),
        )
        assert names(result) == {"x=@y", "Alpha"}

    def test_contains_takes_like_wildcards_literally(self, api, tenant, reports):
        for value in ("%", "_", "0% a"):
            result = assert_filters(api, tenant, [f"name=@{value}"], Q(name__icontains=value))
            assert names(result) == {"100% a_b"}

    def test_another_tenants_reports_never_match(self, api, tenant, reports):
        result = assert_filters(api, tenant, ["name==Alpha"], Q(name="Alpha"))
        assert result == [str(reports["Alpha"].pk)]
        assert Report.objects.filter(name="Alpha").count() == 2


class TestConditionsCombine:
    def test_comma_separated_conditions_must_all_hold(self, api, tenant, reports):
        result = assert_filters(
            api,
            tenant,
            ["createdBy=@alice", "status==Ready", "createdAt>=2026-03-02"],
            Q(
                created_by__icontains="alice",
                status="Ready",
                created_at__gte=at("2026-03-02T00:00Z"),
            ),
        )
        assert names(result) == {"not!=this", "MiXeD CaSe"}

    def test_the_same_field_twice_narrows(self, api, tenant, reports):
        result = assert_filters(
            api,
            tenant,
            ["createdAt>=2026-03-03", "createdAt<=2026-03-04"],
            Q(created_at__gte=at("2026-03-03T00:00Z"), created_at__lt=at("2026-03-05T00:00Z")),
        )
        assert names(result) == {"not!=this", "<=5 GPUs >=2", "Total $", "^top"}
        result = assert_filters(
            api,
            tenant,
            ["name=@a", "name!@alpha"],
            Q(name__icontains="a") & ~Q(name__icontains="alpha"),
        )
        assert "Alpha" not in names(result) and "Costs, March" in names(result)

    def test_conditions_that_exclude_each_other_match_nothing(self, api, tenant, reports):
        both = Q(status="Ready") & Q(status="Failed")
        assert assert_filters(api, tenant, ["status==Ready", "status==Failed"], both) == []

    def test_the_parameter_given_twice_means_both(self, api, tenant, reports):
        response = api.get(URL, {"filterBy": ["createdBy==sa:robot", "status!=Ready"]})
        expected = expected_ids(tenant, Q(created_by="sa:robot") & ~Q(status="Ready"))
        assert [report["id"] for report in response.json()["reports"]] == expected
        assert names(expected) == {"a==b", "Total $", "a,b,c"}
        count = api.get(COUNT_URL, {"filterBy": ["createdBy==sa:robot", "status!=Ready"]})
        assert count.json() == {"count": len(expected)}

    def test_each_parameter_may_hold_several_conditions(self, api, tenant, reports):
        query = "?filterBy=" + quote("createdBy=^sa:,name=@a") + "&filterBy=" + quote("status=$ing")
        expected = expected_ids(
            tenant,
            Q(created_by__istartswith="sa:", name__icontains="a", status__iendswith="ing"),
        )
        assert listed(api, query) == expected
        assert counted(api, query) == len(expected)
        assert names(expected) == {"a==b", "Total $"}

    def test_a_value_never_runs_on_into_the_next_parameter(self, api, reports):
        # "Costs" then " March" as two parameters is not the name "Costs, March".
        response = api.get(URL, {"filterBy": ["name==Costs", " March"]})
        assert response.status_code == 400
        assert "' March'" in response.json()["message"]

    def test_an_empty_filter_is_no_filter(self, api, tenant, reports):
        everything = expected_ids(tenant, Q())
        assert listed(api, "?filterBy=") == everything
        assert listed(api, "") == everything
        assert counted(api, "?filterBy=") == len(everything) == len(reports)


class TestValuesSentAsTheSdkSendsThem:
    """runapy joins conditions with "," and quotes the lot: commas inside values arrive bare."""

    @pytest.mark.parametrize(
        "name",
        [
            "Costs, March",
            "a,b,c",
            "a==b",
            "x=@y",
            "not!=this",
            "<=5 GPUs >=2",
            "Total $",
            "^top",
            "100% a_b",
            "spaced  out",
        ],
    )
    def test_a_name_with_the_grammars_characters_is_found_by_equals(
        self, api, tenant, reports, name
    ):
        result = assert_filters(api, tenant, [f"name=={name}", "status=@e"], Q(name=name))
        assert result == [str(reports[name].pk)]

    def test_a_comma_in_a_value_then_more_conditions(self, api, tenant, reports):
        result = assert_filters(
            api,
            tenant,
            ["name=^a,b", "createdBy==sa:robot", "status==Failed"],
            Q(name__istartswith="a,b", created_by="sa:robot", status="Failed"),
        )
        assert names(result) == {"a,b,c"}

    def test_a_comma_as_the_whole_value(self, api, tenant, reports):
        result = assert_filters(api, tenant, ["name=@,"], Q(name__icontains=","))
        assert names(result) == {"Costs, March", "a,b,c"}

    def test_operator_characters_in_values(self, api, tenant, reports):
        cases = {
            "name=@==": Q(name__icontains="=="),
            "name=@=@": Q(name__icontains="=@"),
            "name=@!=": Q(name__icontains="!="),
            "name=@<=": Q(name__icontains="<="),
            "name=$$": Q(name__iendswith="$"),
            "name=^^": Q(name__istartswith="^"),
            "name!@=": ~Q(name__icontains="="),
            "name===b": Q(name="=b"),  # the operator is the first two characters
        }
        for condition, query in cases.items():
            assert_filters(api, tenant, [condition], query)
        assert names(expected_ids(tenant, Q(name__icontains="=="))) == {"a==b"}

    def test_a_plus_sign_in_an_offset_survives_quoting(self, api, tenant, reports):
        assert quote("+02:00") == "%2B02%3A00"
        result = assert_filters(
            api,
            tenant,
            ["createdAt>=2026-03-06T16:00:00+02:00"],
            Q(created_at__gte=at("2026-03-06T14:00Z")),
        )
        assert names(result) == {"a,b,c", "spaced  out"}


class TestErrors:
    """Run:ai's error body {"code": 400, "message": ...}, naming the problem; never a 500."""

    @pytest.mark.parametrize(
        "condition, fragments",
        [
            ("nme==Alpha", ["'nme==Alpha'", "fields are name, createdAt, createdBy, status"]),
            ("Name==Alpha", ["'Name==Alpha'", "fields are name"]),
            ("description=@x", ["'description=@x'", "fields are"]),
            ("name~=Alpha", ["'name~=Alpha'", "operators == != <= >= =@ !@ =^ =$"]),
            ("name=Alpha", ["'name=Alpha'", "operators =="]),
            ("name", ["'name'", "not 'field operator value'"]),
            ("name==", ["'name=='", "has no value"]),
            ("createdAt>=", ["'createdAt>='", "has no value"]),
            ("createdAt=@2026", ["'createdAt=@2026'", "createdAt takes ==, !=, <=, >="]),
            ("createdAt!@2026", ["createdAt takes ==, !=, <=, >="]),
            ("createdAt=^2026-03", ["createdAt takes ==, !=, <=, >="]),
            ("createdAt=$Z", ["createdAt takes ==, !=, <=, >="]),
            ("createdAt==yesterday", ["'yesterday' is not an ISO 8601 date or time"]),
            ("createdAt>=2026-02-30", ["'2026-02-30' is not an ISO 8601 date or time"]),
            ("createdAt<=2026-03-01T25:00:00Z", ["is not an ISO 8601 date or time"]),
            ("createdAt<=2026-03-01T10:00:00+25:00", ["is not an ISO 8601 date or time"]),
            ("createdAt<=9999-12-31", ["'9999-12-31' is out of range"]),
            ("createdAt>=0001-01-01T00:00:00+02:00", ["is out of range"]),
            ("createdAt<=9999-12-31T23:00:00-02:00", ["is out of range"]),
            (
                "status==Bogus",
                ["'status==Bogus'", "status is one of Pending, Processing, Ready, Failed"],
            ),
            ("status!=ready", ["status is one of Pending, Processing, Ready, Failed"]),
            ("name==a\x00b", ["null characters"]),
            ("\x00", ["null characters"]),
        ],
    )
    def test_a_bad_condition_is_a_400(self, api, reports, condition, fragments):
        assert_rejected(api, [condition], *fragments)

    def test_a_bad_condition_after_good_ones_is_still_a_400(self, api, reports):
        assert_rejected(api, ["name=@a", "status==Bogus"], "'status==Bogus'")
        assert_rejected(api, ["status==Ready", "createdAt=@2026"], "createdAt takes")

    def test_a_status_with_a_comma_is_not_two_statuses(self, api, reports):
        # One condition holds one value: "Ready,Failed" is not a status.
        assert_rejected(api, ["status==Ready,Failed"], "'status==Ready,Failed'", "status is one of")

    def test_a_bad_parameter_among_several_is_a_400(self, api, reports):
        for url in (URL, COUNT_URL):
            response = api.get(url, {"filterBy": ["status==Ready", "nme==x"]})
            assert response.status_code == 400
            assert response.json()["code"] == 400 and "'nme==x'" in response.json()["message"]


class TestParseFilterBy:
    """The comma rule: a piece that does not begin with `field operator` belongs to the value
    before it, within one parameter."""

    def test_one_condition(self):
        assert parse_filter_by(["name==a"]) == Q(name="a")

    def test_a_comma_inside_a_value(self):
        assert parse_filter_by(["name==a,b"]) == Q(name="a,b")
        assert parse_filter_by(["name==a,b,c"]) == Q(name="a,b,c")
        assert parse_filter_by(["createdBy=@x,y,status==Ready"]) == (
            Q(created_by__icontains="x,y") & Q(status="Ready")
        )

    def test_a_comma_before_a_field_and_operator_starts_a_condition(self):
        assert parse_filter_by(["name==a,status==Ready"]) == Q(name="a") & Q(status="Ready")
        assert parse_filter_by(["name==a,createdBy!@b"]) == Q(name="a") & ~Q(
            created_by__icontains="b"
        )

    def test_only_an_exact_field_and_operator_starts_a_condition(self):
        # A space, another case or an unknown field makes the piece part of the value.
        assert parse_filter_by(["name==a, status==Ready"]) == Q(name="a, status==Ready")
        assert parse_filter_by(["name==a,Status==Ready"]) == Q(name="a,Status==Ready")
        assert parse_filter_by(["name==a,nme==b"]) == Q(name="a,nme==b")
        assert parse_filter_by(["name==a,name"]) == Q(name="a,name")

    def test_empty_pieces_are_commas_in_the_value(self):
        assert parse_filter_by(["name==a,"]) == Q(name="a,")
        assert parse_filter_by(["name==a,,status==Ready"]) == Q(name="a,") & Q(status="Ready")
        assert parse_filter_by(["name=@,"]) == Q(name__icontains=",")

    def test_nothing_is_no_condition(self):
        assert parse_filter_by([]) == Q()
        assert parse_filter_by([""]) == Q()
        assert parse_filter_by(["", ""]) == Q()
        assert parse_filter_by([",name==a"]) == Q(name="a")

    def test_each_parameter_is_a_list_of_its_own(self):
        assert parse_filter_by(["name==a", "status==Ready"]) == Q(name="a") & Q(status="Ready")
        assert parse_filter_by(["name==a,b", "status==Ready,createdBy==c"]) == (
            Q(name="a,b") & Q(status="Ready") & Q(created_by="c")
        )
        with pytest.raises(FilterError, match="'b'"):
            parse_filter_by(["name==a", "b"])

    def test_a_bad_first_piece_is_an_error_not_a_value(self):
        with pytest.raises(FilterError, match="not 'field operator value'"):
            parse_filter_by(["a,name==b"])

    def test_the_operator_is_the_two_characters_after_the_field(self):
        assert parse_filter_by(["name!=@x"]) == ~Q(name="@x")
        assert parse_filter_by(["name=@=x"]) == Q(name__icontains="=x")
        assert parse_filter_by(["name==^x"]) == Q(name="^x")

    def test_a_date_is_a_day_and_a_time_a_moment_in_utc(self):
        first, next_day = at("2026-03-01T00:00Z"), at("2026-03-02T00:00Z")
        assert parse_filter_by(["createdAt==2026-03-01"]) == Q(
            created_at__gte=first, created_at__lt=next_day
        )
        assert parse_filter_by(["createdAt==2026-W09-7"]) == Q(
            created_at__gte=first, created_at__lt=next_day
        )
        (moment,) = [
            value for _, value in parse_filter_by(["createdAt>=2026-03-01T02:00+02:00"]).children
        ]
        assert moment == first and moment.utcoffset().total_seconds() == 0
        assert moment.tzinfo is UTC
