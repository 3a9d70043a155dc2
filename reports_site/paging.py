"""One paginator for long lists: the Reports table and the admin's lists of reports, samples and
rollups."""

from django.core import paginator
from django.utils.functional import cached_property


class Paginator(paginator.Paginator):
    """Pages of an ordered QuerySet, each as quick as the first, the count capped if asked.

    A page past the middle is read from the far end, in reverse order, and turned round: the
    last of 100,000 reports is then as near as the first, where an OFFSET would make the
    database walk past all the others. With `count_limit`, counting stops there (a search
    through a large tenant, a table of millions of samples), and only that many rows are paged.
    """

    count_limit: int | None = None

    def __init__(self, object_list, per_page, *args, count_limit: int | None = None, **kwargs):
        super().__init__(object_list, per_page, *args, **kwargs)
        if count_limit is not None:
            self.count_limit = count_limit

    @cached_property
    def count(self) -> int:
        if self.count_limit is None:
            return super().count
        return min(self._counted, self.count_limit)

    @property
    def is_capped(self) -> bool:
        """Whether there are more rows than were counted."""
        return self.count_limit is not None and self._counted > self.count_limit

    @cached_property
    def _counted(self) -> int:
        # Counting needs no order, and without one the database need not sort what it counts.
        return self.object_list.order_by()[: self.count_limit + 1].count()

    def page(self, number) -> paginator.Page:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        if self.is_capped or not self.object_list.ordered or bottom * 2 <= self.count:
            return super().page(number)
        rows = list(self.object_list.reverse()[self.count - top : self.count - bottom])
        rows.reverse()
        return self._get_page(rows, number, self)


class AdminPaginator(Paginator):
    """The admin's lists count no further than 10,000 rows: past that it shows 10,000, and its
    last page is the 10,000th row's."""

    count_limit = 10_000
