"""consumption.parsing: reading and checking usage files, without the database."""

import csv
import io
import json
import uuid

import pytest

from consumption.parsing import FIELDS, FileError, RowError, SampleRow, format_for, read_samples
from consumption.parsing import lines as parsing

CLUSTER_ID = "0f8fad5b-d9cb-469f-a165-70867728950e"
MAY_1 = 1_714_521_600  # 2024-05-01T00:00:00Z

GOOD = {
    "cluster_id": CLUSTER_ID,
    "cluster": "east",
    "nodepool": "a100",
    "department": "research",
    "project": "vision",
    "workload": "train-resnet",
    "start": "2024-05-01T00:00:00Z",
    "duration_seconds": "3600",
    "gpu_allocated": "2",
    "gpu_idle": "0.5",
    "cpu_allocated_cores": "8",
    "cpu_used_cores": "3.25",
    "memory_allocated_bytes": "17179869184",
    "memory_used_bytes": "8589934592",
}


def sample(**changes: object) -> dict[str, object]:
    return {**GOOD, **changes}


def csv_bytes(*rows: dict[str, object], header: tuple[str, ...] = FIELDS) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(name, "") for name in header])
    return out.getvalue().encode()


def csv_row(row: dict[str, object]) -> bytes:
    """One data record, without the header."""
    return csv_bytes(row).split(b"\n", 1)[1]


def jsonl_bytes(*rows: dict[str, object]) -> bytes:
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


def read(data: bytes, fmt: str = "csv") -> list[SampleRow | RowError]:
    return list(read_samples(io.BytesIO(data), fmt))


def errors_in(data: bytes, fmt: str = "csv") -> list[tuple[int, str | None, str]]:
    items = read(data, fmt)
    assert all(isinstance(item, RowError) for item in items), items
    return [(error.line, error.field, error.reason) for error in items]


def only_error(data: bytes, fmt: str = "csv") -> RowError:
    (error,) = read(data, fmt)
    assert isinstance(error, RowError), error
    return error


def only_row(data: bytes, fmt: str = "csv") -> SampleRow:
    (row,) = read(data, fmt)
    assert isinstance(row, SampleRow), row
    return row


EXPECTED_GOOD = SampleRow(
    line=2,
    cluster_id=uuid.UUID(CLUSTER_ID),
    cluster="east",
    nodepool="a100",
    department="research",
    project="vision",
    workload="train-resnet",
    start_epoch=MAY_1,
    duration_seconds=3600,
    gpu_allocated_micro=2_000_000,
    gpu_idle_micro=500_000,
    cpu_allocated_micro=8_000_000,
    cpu_used_micro=3_250_000,
    memory_allocated_bytes=17_179_869_184,
    memory_used_bytes=8_589_934_592,
)


# --- Formats -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "fmt"),
    [("usage.csv", "csv"), ("USAGE.CSV", "csv"), ("usage.jsonl", "jsonl"), ("-", "csv")],
)
def test_format_for_goes_by_extension_and_dash_is_csv(path, fmt):
    assert format_for(path) == fmt


def test_format_for_unknown_extension_names_the_accepted_ones():
    with pytest.raises(FileError, match=r"\.csv or \.jsonl"):
        format_for("usage.xlsx")


def test_unknown_format_is_a_file_error():
    with pytest.raises(FileError, match="xml"):
        read_samples(io.BytesIO(csv_bytes(GOOD)), "xml")


# --- Happy paths ---------------------------------------------------------------------------------


def test_csv_row_is_read_field_by_field():
    row = only_row(csv_bytes(GOOD))

    assert row.line == 2
    assert row.cluster_id == uuid.UUID(CLUSTER_ID)
    assert row.cluster == "east"
    assert row.nodepool == "a100"
    assert row.department == "research"
    assert row.project == "vision"
    assert row.workload == "train-resnet"
    assert row.start_epoch == MAY_1
    assert row.duration_seconds == 3600
    assert row.gpu_allocated_micro == 2_000_000
    assert row.gpu_idle_micro == 500_000
    assert row.cpu_allocated_micro == 8_000_000
    assert row.cpu_used_micro == 3_250_000
    assert row.memory_allocated_bytes == 17_179_869_184
    assert row.memory_used_bytes == 8_589_934_592
    assert row == EXPECTED_GOOD


def test_jsonl_row_is_read_field_by_field_with_numbers_as_json_numbers():
    data = (
        f'{{"cluster_id": "{CLUSTER_ID}", "cluster": "east", "nodepool": "a100", '
        '"department": "research", "project": "vision", "workload": "train-resnet", '
        '"start": "2024-05-01T00:00:00Z", '
        '"duration_seconds": 3600, "gpu_allocated": 2, "gpu_idle": 0.5, '
        '"cpu_allocated_cores": 8, "cpu_used_cores": 3.25, '
        '"memory_allocated_bytes": 17179869184, "memory_used_bytes": 8589934592}\n'
    ).encode()
    assert b": 0.5," in data  # numbers, not strings

    row = only_row(data, "jsonl")

    assert row.line == 1
    assert row.cluster_id == uuid.UUID(CLUSTER_ID)
    assert row.cluster == "east"
    assert row.nodepool == "a100"
    assert row.department == "research"
    assert row.project == "vision"
    assert row.workload == "train-resnet"
    assert row.start_epoch == MAY_1
    assert row.duration_seconds == 3600
    assert row.gpu_allocated_micro == 2_000_000
    assert row.gpu_idle_micro == 500_000
    assert row.cpu_allocated_micro == 8_000_000
    assert row.cpu_used_micro == 3_250_000
    assert row.memory_allocated_bytes == 17_179_869_184
    assert row.memory_used_bytes == 8_589_934_592


def test_jsonl_accepts_numbers_as_strings():
    assert only_row(jsonl_bytes(GOOD), "jsonl") == EXPECTED_GOOD._replace(line=1)


def test_rows_are_immutable_sample_rows_equal_to_ones_built_directly():
    row = only_row(csv_bytes(GOOD))

    assert type(row) is SampleRow
    assert row == EXPECTED_GOOD
    assert hash(row) == hash(EXPECTED_GOOD)
    with pytest.raises(AttributeError):
        row.workload = "other"  # type: ignore[misc]


def test_csv_line_numbers_count_the_header_and_blank_lines():
    data = csv_bytes(GOOD) + b"\n   \n" + csv_row(sample(workload="c"))

    rows = read(data)

    assert [(row.line, row.workload) for row in rows] == [(2, "train-resnet"), (5, "c")]


def test_jsonl_skips_blank_lines_and_counts_them():
    data = b"\n" + jsonl_bytes(GOOD) + b"   \n\n" + jsonl_bytes(sample(workload="b"))

    rows = read(data, "jsonl")

    assert [(row.line, row.workload) for row in rows] == [(2, "train-resnet"), (5, "b")]


def test_csv_columns_may_come_in_any_order_and_extra_columns_are_ignored():
    header = ("comment", *reversed(FIELDS), "site")
    data = csv_bytes(sample(comment="hello", site="x"), header=header)

    assert only_row(data) == EXPECTED_GOOD


def test_csv_utf8_bom_is_accepted():
    assert only_row(b"\xef\xbb\xbf" + csv_bytes(GOOD)) == EXPECTED_GOOD


def test_csv_crlf_line_endings_are_accepted():
    assert only_row(csv_bytes(GOOD).replace(b"\n", b"\r\n")) == EXPECTED_GOOD


def test_csv_quoted_names_may_hold_commas_and_quotes():
    row = only_row(csv_bytes(sample(project='vision, "v2"', workload="a,b")))

    assert (row.project, row.workload) == ('vision, "v2"', "a,b")


def test_csv_quoted_newline_is_read_as_one_record_and_refused_as_a_control_character():
    data = csv_bytes(sample(workload="line one\nline two"), sample(workload="after"))

    error, row = read(data)

    assert (error.line, error.field) == (2, "workload")
    assert "must not contain control characters (found '\\n' at position 9)" in error.reason
    # The quoted newline makes the first record two lines long: the next one starts on line 4.
    assert (row.line, row.workload) == (4, "after")


def test_names_are_trimmed_and_non_ascii_names_kept():
    row = only_row(csv_bytes(sample(cluster="  east ", workload="entraînement-日本")))

    assert row.cluster == "east"
    assert row.workload == "entraînement-日本"


@pytest.mark.parametrize("nodepool", ["", "   "])
def test_empty_nodepool_means_default(nodepool):
    assert only_row(csv_bytes(sample(nodepool=nodepool))).nodepool == "default"


def test_jsonl_null_nodepool_means_default():
    assert only_row(jsonl_bytes(sample(nodepool=None)), "jsonl").nodepool == "default"


def test_usage_may_exceed_allocation():
    row = only_row(csv_bytes(sample(cpu_allocated_cores="2", cpu_used_cores="3.5")))

    assert (row.cpu_allocated_micro, row.cpu_used_micro) == (2_000_000, 3_500_000)


def test_reading_is_lazy():
    lines_read = 0

    class CountingStream(io.BytesIO):
        def readline(self, size=-1):
            nonlocal lines_read
            lines_read += 1
            return super().readline(size)

    data = csv_bytes(*(sample(workload=f"w{i}") for i in range(1000)))
    samples = read_samples(CountingStream(data), "csv")
    first = next(samples)

    assert first.workload == "w0"
    assert lines_read < 10


# --- Start times ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "epoch"),
    [
        ("2024-05-01T00:00:00Z", MAY_1),
        ("2024-05-01T02:00:00+02:00", MAY_1),
        ("2024-04-30T19:30:00-04:30", MAY_1),
        ("2024-05-01T00:00:00+00:00", MAY_1),
        ("2024-05-01T00:00:00.000Z", MAY_1),
        ("2024-05-01 00:00:00Z", MAY_1),
        ("1970-01-01T00:00:00Z", 0),
        ("2099-12-31T23:59:59Z", 4_102_444_799),
    ],
)
def test_start_with_a_zone_is_converted_to_utc_seconds(start, epoch):
    assert only_row(csv_bytes(sample(start=start))).start_epoch == epoch


@pytest.mark.parametrize(
    ("start", "reason"),
    [
        ("2024-05-01T00:00:00", "has no time zone; add Z or an offset such as +00:00"),
        ("2024-05-01", "must have a time and a time zone"),
        ("2024-05-01T00:00:00.5Z", "whole seconds are required"),
        ("1969-12-31T23:59:59Z", "must be on or after 1970-01-01T00:00:00Z"),
        ("2100-01-01T00:00:00Z", "before 2100-01-01T00:00:00Z"),
        ("yesterday", "must be an ISO 8601 date and time with a time zone"),
        ("", "is required"),
    ],
)
def test_bad_start_is_an_error(start, reason):
    error = only_error(csv_bytes(sample(start=start)))

    assert (error.line, error.field) == (2, "start")
    assert reason in error.reason


# --- Durations -----------------------------------------------------------------------------------


@pytest.mark.parametrize("duration", ["0", "86401", "-5"])
def test_duration_out_of_range_says_the_range(duration):
    error = only_error(csv_bytes(sample(duration_seconds=duration)))

    assert (error.line, error.field) == (2, "duration_seconds")
    assert error.reason == f"must be from 1 to 86,400 seconds (got {duration})"


@pytest.mark.parametrize(("duration", "seconds"), [("1", 1), ("86400", 86400), ("5.0", 5)])
def test_duration_in_range_is_accepted(duration, seconds):
    assert only_row(csv_bytes(sample(duration_seconds=duration))).duration_seconds == seconds


def test_fractional_duration_is_an_error():
    error = only_error(csv_bytes(sample(duration_seconds="5.5")))

    assert error.field == "duration_seconds"
    assert "whole number of seconds" in error.reason


# --- Amounts -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "micro"),
    [
        ("0.1234565", 123_456),  # half to even: down to the even 6
        ("0.1234575", 123_458),  # half to even: up to the even 8
        ("0.0000005", 0),
        ("0.0000015", 2),
        ("0.1234565000000000000000000000000001", 123_457),  # above half: no double rounding
        ("0.1234564999999999999999999999999999", 123_456),
        ("1e-3", 1_000),
        (" 0.5 ", 500_000),
        (".5", 500_000),
        ("1000000", 1_000_000_000_000),
    ],
)
def test_cores_and_gpus_become_millionths_rounded_half_to_even(text, micro):
    row = only_row(csv_bytes(sample(gpu_allocated=text, gpu_idle="0", cpu_used_cores=text)))

    assert row.gpu_allocated_micro == micro
    assert row.cpu_used_micro == micro


@pytest.mark.parametrize(("text", "amount"), [("2.5", 2), ("3.5", 4), ("1.5e9", 1_500_000_000)])
def test_memory_becomes_whole_bytes_rounded_half_to_even(text, amount):
    row = only_row(csv_bytes(sample(memory_used_bytes=text)))

    assert row.memory_used_bytes == amount


def test_jsonl_numbers_keep_every_digit():
    # As floats, 1.0000005 and 0.0000025 would round to 1.000001 and 0.000003.
    line = (
        json.dumps(sample(gpu_idle="0")).replace('"2"', "1.0000005").replace('"3.25"', "0.0000025")
    )

    row = only_row((line + "\n").encode(), "jsonl")

    assert row.gpu_allocated_micro == 1_000_000
    assert row.cpu_used_micro == 2


@pytest.mark.parametrize(
    "field",
    ["gpu_allocated", "gpu_idle", "cpu_allocated_cores", "cpu_used_cores", "memory_used_bytes"],
)
def test_negative_amount_is_an_error(field):
    error = only_error(csv_bytes(sample(**{field: "-1"})))

    assert (error.line, error.field, error.reason) == (2, field, "must not be negative (got -1)")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("NaN", "must be a finite number (got NaN)"),
        ("Infinity", "must be a finite number (got Infinity)"),
        ("-inf", "must be a finite number (got -inf)"),
        ("lots", "must be a number (got lots)"),
        ("1_000", "must be a number (got 1_000)"),
        ("1,5", "must be a number (got 1,5)"),
        ("", "is required"),
    ],
)
def test_amount_that_is_not_a_finite_number_is_an_error(text, reason):
    error = only_error(csv_bytes(sample(cpu_allocated_cores=text)))

    assert (error.line, error.field, error.reason) == (2, "cpu_allocated_cores", reason)


def test_jsonl_nan_and_booleans_are_not_amounts():
    line = json.dumps(sample(gpu_idle=True)).replace('"3.25"', "NaN")

    errors = errors_in((line + "\n").encode(), "jsonl")

    assert errors == [
        (1, "gpu_idle", "must be a number (got true)"),
        (1, "cpu_used_cores", "must be a finite number (got NaN)"),
    ]


def test_amounts_above_the_bounds_are_errors_that_say_the_bound():
    data = csv_bytes(
        sample(gpu_allocated="1000000.000001", gpu_idle="0"),
        sample(memory_allocated_bytes="1000000000000001"),
    )

    (gpu, memory) = errors_in(data)

    assert gpu[:2] == (2, "gpu_allocated")
    assert "must be at most 1,000,000 " in gpu[2]
    assert memory[:2] == (3, "memory_allocated_bytes")
    assert "must be at most 1,000,000,000,000,000 bytes (1 PB)" in memory[2]


def test_gpu_idle_above_gpu_allocated_is_an_error():
    error = only_error(csv_bytes(sample(gpu_allocated="0.25", gpu_idle="0.5")))

    assert (error.line, error.field) == (2, "gpu_idle")
    assert error.reason == "must not exceed gpu_allocated (0.5 > 0.25)"
    assert str(error) == "line 2, gpu_idle: must not exceed gpu_allocated (0.5 > 0.25)"


def test_gpu_idle_is_compared_with_gpu_allocated_after_rounding():
    row = only_row(csv_bytes(sample(gpu_allocated="0.25", gpu_idle="0.2500004")))

    assert row.gpu_idle_micro == row.gpu_allocated_micro == 250_000


# --- Names and ids -------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["cluster", "department", "project", "workload"])
def test_required_name_missing_is_an_error(field):
    assert errors_in(csv_bytes(sample(**{field: "  "}))) == [(2, field, "is required")]


@pytest.mark.parametrize("field", ["cluster", "nodepool", "department", "project", "workload"])
def test_name_longer_than_200_characters_is_an_error(field):
    assert only_row(csv_bytes(sample(**{field: "x" * 200})))
    error = only_error(csv_bytes(sample(**{field: "x" * 201})))

    assert (error.line, error.field) == (2, field)
    assert error.reason == "must be at most 200 characters (got 201)"


@pytest.mark.parametrize("character", ["\x00", "\t", "\x1b", "\x7f", "\x85", "\u2028"])
def test_name_with_a_control_character_is_an_error(character):
    error = only_error(csv_bytes(sample(workload=f"train{character}job")))

    assert (error.line, error.field) == (2, "workload")
    assert "must not contain control characters" in error.reason
    assert "at position 6" in error.reason


def test_cluster_id_that_is_not_a_uuid_is_an_error():
    error = only_error(csv_bytes(sample(cluster_id="cluster-1")))

    assert (error.line, error.field) == (2, "cluster_id")
    assert error.reason.startswith("must be a UUID")
    assert "(got cluster-1)" in error.reason


def test_jsonl_name_that_is_not_text_is_an_error():
    assert errors_in(jsonl_bytes(sample(project=7, workload=["a"])), "jsonl") == [
        (1, "project", "must be text (got 7)"),
        (1, "workload", "must be text (got a list)"),
    ]


def test_each_bad_field_of_a_line_is_its_own_error_in_field_order():
    data = csv_bytes(GOOD, sample(cluster_id="x", project="", duration_seconds="0", gpu_idle="9"))

    items = read(data)

    assert items[0] == EXPECTED_GOOD
    assert [(error.line, error.field) for error in items[1:]] == [
        (3, "cluster_id"),
        (3, "project"),
        (3, "duration_seconds"),
        (3, "gpu_idle"),
    ]


def test_a_bad_line_does_not_stop_the_following_ones():
    data = csv_bytes(sample(gpu_allocated="-1"), sample(workload="next"))

    error, row = read(data)

    assert (error.line, error.field) == (2, "gpu_allocated")
    assert (row.line, row.workload) == (3, "next")


# --- Whole-line problems -------------------------------------------------------------------------


def test_csv_row_with_the_wrong_number_of_cells_is_an_error():
    data = csv_bytes(GOOD) + b"a,b,c\n" + csv_row(GOOD)

    items = read(data)

    assert items[1] == RowError(3, None, "has 3 cells but the header has 14")
    assert str(items[1]) == "line 3: has 3 cells but the header has 14"
    assert items[2].line == 4


def test_csv_unclosed_quote_is_an_error_on_its_line():
    data = csv_bytes(GOOD) + b'"' + csv_row(GOOD)

    items = read(data)

    assert items[0] == EXPECTED_GOOD
    assert items[1:] == [RowError(3, None, "has a quoted value whose closing quote is missing")]


def test_csv_text_after_a_closing_quote_is_an_error():
    data = csv_bytes(GOOD) + b'"east"x,' + csv_row(GOOD) + csv_row(GOOD)

    items = read(data)

    assert items[1].line == 3 and items[1].field is None
    assert items[1].reason.startswith("is not valid CSV")
    assert items[2].line == 4 and isinstance(items[2], SampleRow)


def test_non_utf8_line_is_an_error_with_its_line_number_and_reading_goes_on():
    latin1 = csv_row(sample(workload="entraînement")).decode().encode("latin-1")
    data = csv_bytes(GOOD) + latin1 + csv_row(sample(workload="after"))

    items = read(data)

    assert items[0] == EXPECTED_GOOD
    assert (items[1].line, items[1].field) == (3, None)
    assert items[1].reason.startswith("is not valid UTF-8 (byte 0xEE at position")
    assert (items[2].line, items[2].workload) == (4, "after")


def test_non_utf8_inside_a_quoted_multiline_name_rejects_that_record_only():
    bad_record = csv_row(sample(workload="one\ntwoX")).replace(b"X", b"\xff")
    data = csv_bytes(GOOD) + bad_record + csv_row(sample(workload="after"))

    items = read(data)

    assert [type(item) for item in items] == [SampleRow, RowError, SampleRow]
    assert (items[1].line, items[1].field) == (4, None)
    assert "UTF-8" in items[1].reason
    assert (items[2].line, items[2].workload) == (5, "after")


def test_jsonl_non_utf8_line_is_an_error_with_its_line_number():
    data = jsonl_bytes(GOOD) + b'{"cluster": "caf\xe9"}\n' + jsonl_bytes(GOOD)

    items = read(data, "jsonl")

    assert (items[1].line, items[1].field) == (2, None)
    assert "not valid UTF-8" in items[1].reason
    assert items[2].line == 3


def test_overlong_line_is_an_error_and_is_not_read_into_memory(monkeypatch):
    monkeypatch.setattr(parsing, "MAX_LINE_BYTES", 400)
    data = csv_bytes(GOOD, sample(workload="x" * 1000), sample(workload="after"))

    items = read(data)

    assert items[1] == RowError(3, None, "is longer than 400 bytes")
    assert (items[2].line, items[2].workload) == (4, "after")


def test_jsonl_invalid_json_is_an_error():
    data = jsonl_bytes(GOOD) + b'{"cluster": "east",\n'

    items = read(data, "jsonl")

    assert (items[1].line, items[1].field) == (2, None)
    assert items[1].reason.startswith("is not valid JSON:")


@pytest.mark.parametrize(("line", "kind"), [("[1, 2]", "a list"), ('"east"', "a string")])
def test_jsonl_line_that_is_not_an_object_is_an_error(line, kind):
    assert errors_in(line.encode() + b"\n", "jsonl") == [
        (1, None, f"must be a JSON object (got {kind})")
    ]


def test_jsonl_missing_keys_are_each_an_error():
    row = sample()
    del row["gpu_idle"], row["start"]

    assert errors_in(jsonl_bytes(row), "jsonl") == [
        (1, "start", "is missing"),
        (1, "gpu_idle", "is missing"),
    ]


# --- Whole-file problems -------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
@pytest.mark.parametrize("data", [b"", b"\n", b"  \r\n\t\n"])
def test_empty_file_is_a_file_error_raised_by_the_call(fmt, data):
    with pytest.raises(FileError, match="The file is empty"):
        read_samples(io.BytesIO(data), fmt)


def test_header_only_csv_is_a_file_error():
    with pytest.raises(FileError, match="has a header row but no data rows"):
        read_samples(io.BytesIO(csv_bytes() + b"\n\n"), "csv")


def test_missing_columns_are_a_file_error_that_lists_them():
    header = tuple(name for name in FIELDS if name not in ("gpu_idle", "memory_used_bytes"))

    with pytest.raises(FileError) as raised:
        read_samples(io.BytesIO(csv_bytes(GOOD, header=header)), "csv")

    assert "lacks the column(s) gpu_idle, memory_used_bytes" in str(raised.value)


def test_csv_without_a_header_is_a_file_error():
    data = csv_bytes(GOOD).split(b"\n", 1)[1]

    with pytest.raises(FileError, match="lacks the column"):
        read_samples(io.BytesIO(data), "csv")


def test_duplicate_column_is_a_file_error():
    with pytest.raises(FileError, match="'project' twice"):
        read_samples(io.BytesIO(csv_bytes(GOOD, header=(*FIELDS, "project"))), "csv")


def test_non_utf8_header_is_a_file_error():
    data = b"caf\xe9," + csv_bytes(GOOD)

    with pytest.raises(FileError, match=r"header \(line 1\) is not valid UTF-8"):
        read_samples(io.BytesIO(data), "csv")


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_utf16_file_is_a_file_error(fmt):
    data = csv_bytes(GOOD).decode().encode("utf-16")

    with pytest.raises(FileError, match="UTF-16"):
        read_samples(io.BytesIO(data), fmt)
