"""Bad and unusual files: each is read, or refused with a message that says why."""

import io

import pytest

from contacts.importing.files import ImportFileError, detect_delimiter, open_table
from contacts.tests.conftest import xlsx_bytes


def read(data: bytes, file_format: str = "csv", **options) -> tuple[list[str], list[tuple[int, list[str]]]]:
    table = open_table(io.BytesIO(data), file_format=file_format, **options)
    return table.headers, list(table.rows)


def test_a_latin1_file_is_read_with_its_accents():
    _headers, rows = read("first name,phone\nZoë Müller,+12025550143\n".encode("latin-1"))
    assert rows == [(2, ["Zoë Müller", "+12025550143"])]


def test_a_utf8_file_with_a_bom_has_a_clean_first_header():
    headers, _ = read("\ufeffphone,name\n+12025550143,Ada\n".encode())
    assert headers == ["phone", "name"]


def test_a_utf16_file_from_excel_unicode_text_is_read():
    headers, rows = read("phone\tname\r\n+12025550143\tAda\r\n".encode("utf-16"))
    assert headers == ["phone", "name"]
    assert rows[0][1] == ["+12025550143", "Ada"]


@pytest.mark.parametrize("delimiter", [";", "\t", ",", "|"])
def test_semicolon_tab_comma_and_pipe_delimiters_are_detected(delimiter):
    import csv

    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)
    writer.writerows([["name", "phone", "note"], ["Ada", "+12025550143", "a, b; c"]])
    headers, rows = read(buffer.getvalue().encode())
    assert headers == ["name", "phone", "note"]
    assert rows[0][1] == ["Ada", "+12025550143", "a, b; c"]


def test_a_header_without_delimiters_is_read_as_one_column():
    assert detect_delimiter("phone") == ","


def test_an_empty_file_is_refused_as_empty():
    with pytest.raises(ImportFileError, match="empty"):
        read(b"")


def test_a_file_of_blank_lines_is_refused_as_empty():
    with pytest.raises(ImportFileError, match="empty"):
        read(b"\n\n ,, \n")


def test_blank_lines_are_skipped_and_counted_and_row_numbers_stay_those_of_the_file():
    table = open_table(io.BytesIO(b"phone\n\n+12025550143\n,\n+13125550178\n"), file_format="csv")
    rows = list(table.rows)
    assert rows == [(3, ["+12025550143"]), (5, ["+13125550178"])]
    assert table.blank_rows == [2, 4]


def test_a_binary_file_sent_as_csv_is_refused():
    with pytest.raises(ImportFileError, match="not a CSV"):
        read(b"PK\x03\x04\x00\x00binary")


def test_an_xlsx_reads_its_first_sheet_by_default_and_names_the_others():
    data = xlsx_bytes({"Customers": [["Phone", "Name"], [4155550123, "Grace"]], "Old": [["Phone"], ["+1"]]})
    table = open_table(io.BytesIO(data), file_format="xlsx")
    assert table.sheet == "Customers"
    assert list(table.rows) == [(2, ["4155550123", "Grace"])]
    assert "Old" in table.describe()


def test_an_xlsx_reads_the_sheet_chosen():
    data = xlsx_bytes({"Notes": [["nothing here"]], "Customers": [["Phone"], ["+14155550123"]]})
    _, rows = read(data, "xlsx", sheet="Customers")
    assert rows == [(2, ["+14155550123"])]


def test_an_xlsx_without_the_chosen_sheet_lists_its_sheets():
    data = xlsx_bytes({"A": [["Phone"]], "B": [["Phone"]]})
    with pytest.raises(ImportFileError, match="no sheet 'C'; its sheets are: A, B"):
        read(data, "xlsx", sheet="C")


def test_a_csv_sent_as_xlsx_is_refused():
    with pytest.raises(ImportFileError, match="not an Excel workbook"):
        read(b"phone\n+12025550143\n", "xlsx")


def test_a_file_over_the_size_limit_is_refused_with_the_limit(settings):
    from contacts.importing.files import check_file_size

    settings.CONTACT_IMPORT_MAX_FILE_MB = 50
    check_file_size(50 * 1024 * 1024)
    with pytest.raises(ImportFileError, match=r"50.0 MB.*limit is 50 MB \(CONTACT_IMPORT_MAX_FILE_MB\)"):
        check_file_size(50 * 1024 * 1024 + 1)


def test_a_large_csv_is_streamed_in_bounded_memory():
    import tracemalloc

    row = b"Ada,Byron,+12025550143,ada@example.com,some note that makes the row longer than usual\n"
    data = b"first,last,phone,email,note\n" + row * (4 * 1024 * 1024 // len(row))  # 4 MB
    tracemalloc.start()
    table = open_table(io.BytesIO(data), file_format="csv")
    count = sum(1 for _ in table.rows)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert count == len(data) // len(row)
    assert peak < 1024 * 1024  # well under the file's 4 MB: rows are read one at a time
