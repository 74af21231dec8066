"""Contact files (CSV, XLSX) read as a header and a stream of rows, whatever encoding and delimiter they use.

Rows are streamed: a CSV goes through `csv.reader` line by line and an XLSX through openpyxl's
read-only mode, so memory stays flat however long the file is. The size limit
(`CONTACT_IMPORT_MAX_FILE_MB`) is a policy on top, checked at upload.
"""

import codecs
import csv
import datetime
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import BinaryIO

import charset_normalizer
from django.conf import settings
from django.utils.formats import number_format
from django.utils.translation import gettext

CSV_DELIMITERS = (",", ";", "\t", "|")
SAMPLE_BYTES = 64 * 1024
# Encodings a Western spreadsheet writes when it does not write UTF-8; cp1252 is the superset.
WESTERN_ENCODINGS = {"cp1252", "latin_1", "iso8859_1", "iso8859_15", "cp1250", "mac_roman", "ascii"}
# A CRM export may put a long note in one cell; the csv module's default limit is 128 KiB.
MAX_CELL_CHARS = 1024 * 1024


class ImportFileError(Exception):
    """The file as a whole cannot be imported; the message says why, for the operator. Nothing was written."""


@dataclass
class Table:
    headers: list[str]
    rows: Iterator[tuple[int, list[str]]]  # (row number in the file, the header being row 1; cells)
    file_format: str
    sheet: str = ""
    sheet_names: list[str] = field(default_factory=list)
    encoding: str = ""
    delimiter: str = ""
    blank_rows: list[int] = field(default_factory=list)  # filled while `rows` is consumed

    def describe(self) -> str:
        if self.file_format == "xlsx":
            others = [name for name in self.sheet_names if name != self.sheet]
            if others:
                return gettext("Excel sheet %(sheet)r (the workbook also has: %(others)s)") % {
                    "sheet": self.sheet,
                    "others": ", ".join(others),
                }
            return gettext("Excel sheet %(sheet)r") % {"sheet": self.sheet}
        names = {",": gettext("comma"), ";": gettext("semicolon"), "\t": gettext("tab"), "|": gettext("pipe")}
        return gettext("CSV, %(encoding)s, %(delimiter)s-separated") % {
            "encoding": self.encoding,
            "delimiter": names.get(self.delimiter, self.delimiter),
        }


def max_file_bytes() -> int:
    return settings.CONTACT_IMPORT_MAX_FILE_MB * 1024 * 1024


def check_file_size(size: int) -> None:
    if size > max_file_bytes():
        raise ImportFileError(
            gettext(
                "The file is %(size)s MB; the limit is %(limit)s MB (CONTACT_IMPORT_MAX_FILE_MB). Split it into "
                "several files."
            )
            % {"size": number_format(size / 1024 / 1024, 1), "limit": settings.CONTACT_IMPORT_MAX_FILE_MB}
        )


def open_table(stream: BinaryIO, *, file_format: str, sheet: str = "") -> Table:
    """Open a seekable binary stream as a `Table`; raise `ImportFileError` when it has no header row."""
    if file_format == "xlsx":
        return _open_xlsx(stream, sheet=sheet)
    return _open_csv(stream)


def detect_encoding(sample: bytes) -> str:
    """The encoding of a CSV from its first bytes: a BOM, else UTF-8 if it decodes, else a best guess.

    Excel writes UTF-8 with a BOM ("CSV UTF-8"), UTF-16 ("Unicode text") or the Windows code page
    (cp1252, a superset of Latin-1); charset-normalizer names anything else.
    """
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    best = charset_normalizer.from_bytes(sample).best()
    guess = best.encoding if best else "cp1252"
    return "cp1252" if guess in WESTERN_ENCODINGS else guess


def detect_delimiter(first_line: str) -> str:
    """The delimiter the header line uses most (a header holds no quoted delimiters in practice)."""
    counts = {delimiter: first_line.count(delimiter) for delimiter in CSV_DELIMITERS}
    best = max(counts, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


def _open_csv(stream: BinaryIO) -> Table:
    sample = stream.read(SAMPLE_BYTES)
    stream.seek(0)
    if not sample.strip():
        raise ImportFileError(gettext("The file is empty."))
    if b"\x00" in sample and not sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ImportFileError(
            gettext("The file holds binary data; it is not a CSV file. Choose the right format (XLSX?).")
        )
    encoding = detect_encoding(sample)
    # errors="replace": a stray byte deep in a big file becomes "�" in that cell instead of failing the file.
    text = io.TextIOWrapper(stream, encoding=encoding, errors="replace", newline="")
    first_line = next((line for line in _peek_lines(sample, encoding) if line.strip()), "")
    delimiter = detect_delimiter(first_line)
    csv.field_size_limit(MAX_CELL_CHARS)
    reader = csv.reader(text, delimiter=delimiter)
    table = Table(headers=[], rows=iter(()), file_format="csv", encoding=encoding, delimiter=delimiter)
    try:
        for cells in reader:
            if any(cell.strip() for cell in cells):
                table.headers = [cell.strip() for cell in cells]
                break
    except csv.Error as error:
        raise ImportFileError(gettext("The header row cannot be read: %(error)s.") % {"error": error}) from error
    if not table.headers:
        raise ImportFileError(gettext("The file is empty: it has no header row."))
    table.rows = _csv_rows(reader, table)
    return table


def _peek_lines(sample: bytes, encoding: str) -> list[str]:
    return sample.decode(encoding, errors="replace").splitlines()[:5]


def _csv_rows(reader: "csv._reader", table: Table) -> Iterator[tuple[int, list[str]]]:
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise ImportFileError(
                gettext("Line %(line)d cannot be read: %(error)s.") % {"line": reader.line_num, "error": error}
            ) from error
        cells = list(map(str.strip, cells))
        if not any(cells):
            table.blank_rows.append(reader.line_num)
            continue
        yield reader.line_num, cells


def _open_xlsx(stream: BinaryIO, *, sheet: str) -> Table:
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(stream, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError) as error:
        raise ImportFileError(gettext("The file is not an Excel workbook (XLSX). Choose the right format.")) from error
    names = list(workbook.sheetnames)
    if sheet and sheet not in names:
        raise ImportFileError(
            gettext("The workbook has no sheet %(sheet)r; its sheets are: %(names)s.")
            % {"sheet": sheet, "names": ", ".join(names)}
        )
    worksheet = workbook[sheet] if sheet else workbook.worksheets[0]
    values = enumerate(worksheet.iter_rows(values_only=True), start=1)
    table = Table(headers=[], rows=iter(()), file_format="xlsx", sheet=worksheet.title, sheet_names=names)
    for _number, row in values:
        cells = [xlsx_cell_text(value) for value in row]
        if any(cells):
            table.headers = cells
            break
    if not table.headers:
        raise ImportFileError(
            gettext("The sheet %(sheet)r is empty: it has no header row.") % {"sheet": worksheet.title}
        )
    table.rows = _xlsx_rows(values, table)
    return table


def _xlsx_rows(values: Iterator, table: Table) -> Iterator[tuple[int, list[str]]]:
    for number, row in values:
        cells = [xlsx_cell_text(value) for value in row]
        if not any(cells):
            table.blank_rows.append(number)
            continue
        yield number, cells


def xlsx_cell_text(value: object) -> str:
    """A cell as the text a person sees: 4155550123.0 (Excel stores numbers as floats) is "4155550123"."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, Decimal | int | float):
        return str(value)
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    return str(value).strip()
