"""One paginator for long lists: the Reports table and the admin's lists of reports, samples and
rollups."""

from collections.abc import Iterator

from django.core import paginator
from django.utils.functional import cached_property

LAST = "last"
# A text search has each row matched, the costliest count: the Reports table's and the admin's
# searches count no further than this.
SEARCH_COUNT_LIMIT = 1000


class Paginator(paginator.Paginator):
    """Pages of an ordered QuerySet, each as quick as the first, the count capped if asked.

    A page past the middle is read from the far end, in reverse order, and turned round: the
    last of 100,000 reports is then as near as the first, where an OFFSET would make the
    database walk past all the others. With `count_limit`, counting stops there (a search
    through a large tenant, a table of millions of samples), and only that many rows are paged;
    with `pages_past_limit` as well, the pages past them can still be asked for (by number, or
    "last"), and only then are all rows counted.
    """

    count_limit: int | None = None

    def __init__(
        self,
        object_list,
        per_page,
        *args,
        count_limit: int | None = None,
        pages_past_limit: bool = False,
        **kwargs,
    ):
        super().__init__(object_list, per_page, *args, **kwargs)
        if count_limit is not None:
            self.count_limit = count_limit
        self.pages_past_limit = pages_past_limit

    @cached_property
    def count(self) -> int:
        if self.count_limit is None:
            return super().count
        return min(self._counted, self.count_limit)

    @property
    def is_capped(self) -> bool:
        """Whether there are more rows than were counted."""
        return self.count_limit is not None and self._counted > self.count_limit

    @property
    def last_page_unknown(self) -> bool:
        """Whether there are pages past the counted rows, which can be asked for."""
        return self.pages_past_limit and self.is_capped

    @cached_property
    def num_pages(self) -> int:
        if self.last_page_unknown:
            # The pages whose rows were all counted, and the next: there is at least one more.
            return self.count // self.per_page + 1
        return super().num_pages

    @cached_property
    def _counted(self) -> int:
        # Counting needs no order, and without one the database need not sort what it counts.
        return self.object_list.order_by()[: self.count_limit + 1].count()

    def get_page(self, number) -> paginator.Page:
        """The page of that number, or "last"; the first if it is not a number, the last if it is
        past the end. A page past the counted rows is one of a paginator that counts them all: its
        `paginator`."""
        if self._past_counted(number):
            return self._counting_all().get_page(number)
        return super().get_page(self.num_pages if number == LAST else number)

    def page(self, number) -> paginator.Page:
        if self._past_counted(number):
            return self._counting_all().page(number)
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

    def get_elided_page_range(self, number=1, *, on_each_side=3, on_ends=2) -> Iterator:
        if not self.last_page_unknown:
            yield from super().get_elided_page_range(
                number, on_each_side=on_each_side, on_ends=on_ends
            )
            return
        # The first pages and those around this one, then an ellipsis for the unknown rest.
        number = self.validate_number(number)
        if number > on_ends + on_each_side + 2:
            yield from range(1, on_ends + 1)
            yield self.ELLIPSIS
            yield from range(number - on_each_side, number)
        else:
            yield from range(1, number)
        yield from range(number, min(number + on_each_side, self.num_pages) + 1)
        yield self.ELLIPSIS

    def _past_counted(self, number) -> bool:
        if not self.last_page_unknown:
            return False
        if number == LAST:
            return True
        try:
            return int(number) * self.per_page > self.count
        except (TypeError, ValueError):
            return False

    def _counting_all(self) -> "Paginator":
        return Paginator(self.object_list, self.per_page, self.orphans, self.allow_empty_first_page)


class AdminPaginator(Paginator):
    """The admin's lists count no further than 10,000 rows: past that it shows 10,000, and its
    last page is the 10,000th row's."""

    count_limit = 10_000
