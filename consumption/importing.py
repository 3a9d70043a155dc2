"""Importing usage files: all-or-nothing by default, with memory that does not grow with the file.

New samples, the usual case, are appended: on PostgreSQL streamed into one COPY as the file is
read, elsewhere in batches. When the file names samples that are stored already, it is written in
batches through a temporary staging table, each one upsert (a re-imported identity replaces its
sample) that also counts what it replaced."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

from django.db import IntegrityError, connection, transaction

from reports_site.tenancy.models import Cluster, Department, NodePool, Project, Tenant

from . import rollups
from .models import DAY_SECONDS, UsageSample
from .parsing import RowError, SampleRow, read_samples

BATCH_SIZE = 10_000
SHOWN_ERRORS = 20


def _stored_columns() -> tuple[str, ...]:
    """The columns of a usage sample, in the order the importer writes them: the project and node
    pool it finds for a row, then the fields of SampleRow that UsageSample stores (in SampleRow's
    order)."""
    stored = {field.column for field in UsageSample._meta.concrete_fields}
    return (
        "project_id",
        "nodepool_id",
        *(name for name in SampleRow._fields if name in stored),
    )


def _identity_columns() -> tuple[str, ...]:
    """The columns of a sample's identity, as its unique constraint names them."""
    (identity,) = (c for c in UsageSample._meta.constraints if c.name == "usage_sample_identity")
    return tuple(UsageSample._meta.get_field(name).column for name in identity.fields)


COLUMNS = _stored_columns()
# A collected sample also names its usage source. (An imported one has none, and leaves a
# collected sample it replaces its source, so that collecting the hour again replaces it.)
COLLECTED_COLUMNS = (*COLUMNS, "source_id")
_IDENTITY = _identity_columns()
_STAGING = "usage_import_staging"
_LOCK_CLASS = 31_415  # the advisory lock space of usage imports


@dataclass
class ImportResult:
    created: int = 0
    replaced: int = 0
    rejected: int = 0
    errors: list[RowError] = field(default_factory=list)  # the first SHOWN_ERRORS of them


class ImportRejected(Exception):
    """The file had invalid rows and was not imported (all-or-nothing)."""

    def __init__(self, result: ImportResult):
        super().__init__(f"{result.rejected} invalid row(s); nothing was imported.")
        self.result = result


def import_usage(
    stream: BinaryIO, fmt: str, tenant: Tenant, skip_invalid: bool = False
) -> ImportResult:
    """Import a usage file into `tenant`. Without `skip_invalid`, one invalid row rejects the
    whole file (ImportRejected, nothing written); with it, valid rows are imported and the rest
    are counted and listed. Unknown clusters, node pools, departments and projects are created."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # One import at a time per tenant: two files naming the same new sample never race
            # for it, and the counts of created and replaced samples stay right. (SQLite runs
            # one writing transaction at a time anyway.)
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_CLASS, tenant.pk])
            if stream.seekable():
                start = stream.tell()
                try:
                    with transaction.atomic():  # a savepoint, for the fallback below
                        return _import(stream, fmt, tenant, skip_invalid, _CopyWriter)
                except _Clash:
                    # The file names stored samples (or one sample twice): read it again, in
                    # batches that can replace.
                    stream.seek(start)
        return _import(stream, fmt, tenant, skip_invalid, BatchWriter)


def _import(stream: BinaryIO, fmt: str, tenant: Tenant, skip_invalid: bool, writer_class):
    result = ImportResult()
    with writer_class(result) as writer:
        place = OrgTree(tenant, before_querying=writer.pause).place
        for row in read_samples(stream, fmt):
            placed = place(row) if type(row) is SampleRow else row
            if type(placed) is RowError:
                _reject(result, placed)
            elif skip_invalid or not result.rejected:
                writer.add(row, *placed)
        if result.rejected and not skip_invalid:
            # Nothing of the file stays: not the samples, not the org units made for them.
            raise ImportRejected(result)
        writer.finish()
    return result


def _reject(result: ImportResult, error: RowError) -> None:
    # A row with several bad fields yields several errors but is one rejected row.
    if not result.errors or result.errors[-1].line != error.line:
        result.rejected += 1
    if len(result.errors) < SHOWN_ERRORS:
        result.errors.append(error)


class OrgTree:
    """The tenant's clusters, node pools, departments and projects by name, creating missing ones
    and refusing rows that contradict what is known (a project in two departments)."""

    def __init__(self, tenant: Tenant, before_querying: Callable[[], None] = lambda: None):
        self.tenant = tenant
        self.before_querying = before_querying  # the connection may be busy with a COPY
        self.clusters = {c.uuid: c for c in Cluster.objects.for_tenant(tenant)}
        self.cluster_names = {c.name: c.uuid for c in self.clusters.values()}
        self.foreign: set = set()  # cluster ids found to be another tenant's
        self.placed: dict[tuple, tuple[int, int]] = {}
        self.nodepools = {(p.cluster_id, p.name): p.pk for p in NodePool.objects.for_tenant(tenant)}
        self.departments = {
            (d.cluster_id, d.name): d.pk for d in Department.objects.for_tenant(tenant)
        }
        self.department_names = {pk: name for (_, name), pk in self.departments.items()}
        self.projects = {
            (p.cluster_id, p.name): (p.pk, p.department_id)
            for p in Project.objects.for_tenant(tenant)
        }

    def place(self, row: SampleRow) -> tuple[int, int] | RowError:
        """The row's project and node pool ids, or why it cannot be placed there."""
        # Rows repeat the same few places: remember each one that was placed.
        key = (row.cluster_id, row.cluster, row.department, row.project, row.nodepool)
        placed = self.placed.get(key)
        if placed is None:
            self.before_querying()
            placed = self._resolve(row)
            if type(placed) is not RowError:
                self.placed[key] = placed
        return placed

    def _resolve(self, row: SampleRow) -> tuple[int, int] | RowError:
        cluster = self._cluster(row)
        if isinstance(cluster, RowError):
            return cluster
        department_id = self.departments.get((cluster.pk, row.department))
        if department_id is None:
            department_id = Department.objects.create(cluster=cluster, name=row.department).pk
            self.departments[(cluster.pk, row.department)] = department_id
            self.department_names[department_id] = row.department
        project = self.projects.get((cluster.pk, row.project))
        if project is None:
            project_id = Project.objects.create(
                cluster=cluster, department_id=department_id, name=row.project
            ).pk
            self.projects[(cluster.pk, row.project)] = (project_id, department_id)
        elif project[1] != department_id:
            return RowError(
                row.line,
                "department",
                f"project {row.project!r} of cluster {cluster.name!r} is in department "
                f"{self.department_names[project[1]]!r}, not {row.department!r}: a project "
                "belongs to exactly one department",
            )
        else:
            project_id = project[0]
        nodepool_id = self.nodepools.get((cluster.pk, row.nodepool))
        if nodepool_id is None:
            nodepool_id = NodePool.objects.create(cluster=cluster, name=row.nodepool).pk
            self.nodepools[(cluster.pk, row.nodepool)] = nodepool_id
        return project_id, nodepool_id

    def _cluster(self, row: SampleRow) -> Cluster | RowError:
        cluster = self.clusters.get(row.cluster_id)
        if cluster is not None:
            if cluster.name != row.cluster:
                return RowError(
                    row.line,
                    "cluster",
                    f"cluster {row.cluster_id} is named {cluster.name!r}, not {row.cluster!r}",
                )
            return cluster
        if row.cluster in self.cluster_names:
            return RowError(
                row.line,
                "cluster_id",
                f"cluster {row.cluster!r} already exists with id {self.cluster_names[row.cluster]}",
            )
        if row.cluster_id in self.foreign or Cluster.objects.filter(uuid=row.cluster_id).exists():
            self.foreign.add(row.cluster_id)
            return RowError(
                row.line, "cluster_id", f"cluster {row.cluster_id} belongs to another tenant"
            )
        cluster = Cluster.objects.create(tenant=self.tenant, uuid=row.cluster_id, name=row.cluster)
        self.clusters[cluster.uuid] = cluster
        self.cluster_names[cluster.name] = cluster.uuid
        # Cluster.save() made its default node pool.
        self.nodepools[(cluster.pk, "default")] = cluster.nodepools.get(name="default").pk
        return cluster


class _Writer:
    """Writes an import's samples, then refreshes the rollups of the days they touch."""

    def __init__(self, result: ImportResult):
        self.result = result
        self.touched: set[tuple[int, int]] = set()  # (project id, day a sample starts in)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        pass

    def pause(self) -> None:
        """Let others use the connection."""

    def refresh_rollups(self) -> None:
        rollups.refresh_around(self.touched)


class _CopyWriter(_Writer):
    """PostgreSQL: streams every row into one COPY as it is read, so that the database stores
    rows while Python reads the next ones. A row that clashes with a stored sample (or another
    row of the file) fails the COPY with _Clash; the caller then falls back to BatchWriter."""

    def __init__(self, result: ImportResult):
        super().__init__(result)
        self.cursor = None
        self.copy_block = None
        self.write_row = None

    def add(self, row: SampleRow, project_id: int, nodepool_id: int) -> None:
        if self.write_row is None:
            self._open()
        start = row.start_epoch
        # The row's duration and amounts follow its start, in the order of COLUMNS (a test
        # checks that they stay so).
        self.write_row((project_id, nodepool_id, row.workload, start, *row[8:]))
        self.touched.add((project_id, start // DAY_SECONDS))
        self.result.created += 1

    def pause(self) -> None:
        if self.copy_block is not None:
            self._close(None, None, None)

    def finish(self) -> None:
        self.pause()
        self.refresh_rollups()

    def __exit__(self, *exc_info) -> None:
        if self.copy_block is not None:
            self._close(*exc_info)  # with an exception: abandon the COPY

    def _open(self) -> None:
        self.cursor = connection.cursor()
        self.copy_block = self.cursor.cursor.copy(_copy_sql(UsageSample._meta.db_table, COLUMNS))
        copy = self.copy_block.__enter__()
        copy.set_types(_copy_types(COLUMNS))
        self.write_row = copy.write_row

    def _close(self, *exc_info) -> None:
        copy_block, self.copy_block, self.write_row = self.copy_block, None, None
        try:
            with connection.wrap_database_errors:
                copy_block.__exit__(*exc_info)
        except IntegrityError:
            raise _Clash from None
        finally:
            self.cursor.close()


class _Clash(Exception):
    """A streamed row names a sample that is stored already, or another row of the file."""


class BatchWriter(_Writer):
    """Writes samples batch by batch: appended while they are new, upserted once a batch
    clashes with stored samples. (The collector writes its samples with it too, in
    COLLECTED_COLUMNS.)"""

    def __init__(self, result: ImportResult, columns: tuple[str, ...] = COLUMNS):
        super().__init__(result)
        self.columns = columns
        self.batch: dict[tuple, tuple] = {}
        self.staging_ready = False
        self.appending = True  # until a batch clashes with stored samples

    def add(self, row: SampleRow, project_id: int, nodepool_id: int) -> None:
        # The row's duration and amounts follow its start, in the order of COLUMNS (a test
        # checks that they stay so).
        self.add_values((project_id, nodepool_id, row.workload, row.start_epoch, *row[8:]))

    def add_values(self, values: tuple) -> None:
        """One sample, its values in the order of the writer's columns."""
        project_id, _, workload, start = values[:4]
        identity = (project_id, start, workload)
        if identity in self.batch:
            self.result.replaced += 1  # the file repeats an identity: the later row wins
        self.batch[identity] = values
        self.touched.add((project_id, start // DAY_SECONDS))
        if len(self.batch) >= BATCH_SIZE:
            self.flush()

    def flush(self) -> None:
        if not self.batch:
            return
        rows = list(self.batch.values())
        with connection.cursor() as cursor:
            if self.appending:
                # New data (the usual case: the next hours or days of usage) goes straight in.
                try:
                    with transaction.atomic():  # a savepoint: a clash undoes just this append
                        _load(cursor, UsageSample._meta.db_table, self.columns, rows)
                    replaced = 0
                except IntegrityError:
                    # The file names stored samples: write the rest of it by upsert.
                    self.appending = False
            if not self.appending:
                replaced = self._upsert(cursor, rows)
        self.result.replaced += replaced
        self.result.created += len(rows) - replaced
        self.batch = {}

    def _upsert(self, cursor, rows: list[tuple]) -> int:
        """Write rows that may replace stored samples, through the staging table; return how
        many were replaced."""
        samples = UsageSample._meta.db_table
        if not self.staging_ready:
            cursor.execute(
                f"CREATE TEMPORARY TABLE {_STAGING} AS SELECT {', '.join(self.columns)} "
                f"FROM {samples} WHERE false"
            )
            self.staging_ready = True
        _load(cursor, _STAGING, self.columns, rows)
        columns = ", ".join(self.columns)
        updates = ", ".join(f"{c} = excluded.{c}" for c in self.columns if c not in _IDENTITY)
        # "WHERE true" lets SQLite tell the upsert clause from a join constraint.
        upsert = (
            f"INSERT INTO {samples} ({columns}) "
            f"SELECT {columns} FROM {_STAGING} WHERE true "
            f"ON CONFLICT ({', '.join(_IDENTITY)}) DO UPDATE SET {updates}"
        )
        if connection.vendor == "postgresql":
            # A row that the upsert updated has a non-zero xmax: one statement both writes the
            # batch and counts what it replaced.
            cursor.execute(
                f"WITH written AS ({upsert} RETURNING xmax = 0 AS inserted) "
                "SELECT COUNT(*) FILTER (WHERE NOT inserted) FROM written"
            )
            replaced = cursor.fetchone()[0]
        else:
            cursor.execute(
                f"SELECT COUNT(*) FROM {_STAGING} s JOIN {samples} u "
                f"ON {' AND '.join(f'u.{c} = s.{c}' for c in _IDENTITY)}"
            )
            replaced = cursor.fetchone()[0]
            cursor.execute(upsert)
        cursor.execute(f"DELETE FROM {_STAGING}")
        return replaced

    def finish(self) -> None:
        self.flush()
        if self.staging_ready:
            with connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE {_STAGING}")
        self.refresh_rollups()


def _copy_sql(table: str, columns: tuple[str, ...]) -> str:
    return f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"


def _copy_types(columns: tuple[str, ...]) -> tuple[str, ...]:
    """PostgreSQL types of the columns, for COPY's binary format (quicker than text at both
    ends): all bigint but these."""
    return tuple({"workload": "text", "duration_seconds": "int4"}.get(c, "int8") for c in columns)


def _load(cursor, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """Append rows (values of `columns`, in order) to a table as fast as the database allows."""
    if connection.vendor == "postgresql":
        # COPY is several times faster than INSERT for bulk loads.
        # Through psycopg directly; Django's wrapper still turns its errors into Django's own.
        copying = cursor.cursor.copy(_copy_sql(table, columns))
        with connection.wrap_database_errors, copying as copy:
            copy.set_types(_copy_types(columns))
            for row in rows:
                copy.write_row(row)
    else:
        placeholders = ", ".join(["%s"] * len(columns))
        cursor.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})", rows
        )
