"""AnyOf: a column in a list of ids that goes to the database as one parameter; plain_rows: a
queryset's rows straight from the driver."""

import pytest
from django.db.models import BigIntegerField, F, Sum
from django.db.models.functions import Cast

from reports_site.lookups import AnyOf, plain_rows
from reports_site.tenancy.models import Project


@pytest.mark.django_db
class TestAnyOf:
    def test_it_keeps_the_rows_whose_id_is_listed(self, org, other_org):
        listed = [org["vision"].pk, org["llm"].pk, other_org["vision"].pk, 0]
        assert set(Project.objects.filter(AnyOf(F("pk"), listed))) == {
            org["vision"],
            org["llm"],
            other_org["vision"],
        }

    def test_ids_beyond_32_bits(self, org):
        listed = [2**40, org["nlp"].pk]
        assert list(Project.objects.filter(AnyOf(F("pk"), listed))) == [org["nlp"]]

    def test_an_empty_list_matches_nothing_without_a_query(self, org, django_assert_num_queries):
        with django_assert_num_queries(0):
            assert list(Project.objects.filter(AnyOf(F("pk"), []))) == []

    def test_it_works_inside_a_subquery(self, org):
        listed = Project.objects.filter(AnyOf(F("pk"), [org["infra"].pk])).values("pk")
        assert list(Project.objects.filter(pk__in=listed)) == [org["infra"]]


@pytest.mark.django_db
class TestPlainRows:
    def test_rows_as_tuples_of_the_values(self, org):
        projects = Project.objects.filter(pk__in=[org["vision"].pk, org["llm"].pk])
        rows = plain_rows(projects.order_by("name").values_list("pk", "name", "cluster__name"))
        assert rows == [
            (org["llm"].pk, "llm", org["llm"].cluster.name),
            (org["vision"].pk, "vision", org["vision"].cluster.name),
        ]

    def test_a_sum_cast_to_bigint_is_an_int(self, org):
        ids = Project.objects.filter(pk__in=[org["vision"].pk, org["nlp"].pk])  # both in east
        [(total,)] = plain_rows(
            ids.values("cluster").annotate(t=Cast(Sum("pk"), BigIntegerField())).values_list("t")
        )
        assert type(total) is int
        assert total == org["vision"].pk + org["nlp"].pk

    def test_a_query_that_can_match_nothing_is_not_sent(self, org, django_assert_num_queries):
        with django_assert_num_queries(0):
            assert plain_rows(Project.objects.filter(pk__in=[]).values_list("pk")) == []
