"""AnyOf: a column in a list of ids that goes to the database as one parameter."""

import pytest
from django.db.models import F

from reports_site.lookups import AnyOf
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
