"""Spreadsheet output that cannot run: formula injection neutralised in every exported cell.

A cell starting with `=`, `+`, `-`, `@` (or a tab or carriage return, which some spreadsheets skip
before reading a formula) is prefixed with a single quote, as OWASP advises: the spreadsheet then
shows it as text. One exception, so that numbers stay usable: a phone number in strict E.164 form
("+" then digits only) is exported as it is. It carries no formula — the worst a spreadsheet does
is read it as the number 14155550123 — and a quote would break re-importing it. In XLSX every
string is written as a text cell, so "+14155550123" stays text there too.
"""

import re

from import_export.formats import base_formats

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
E164_ONLY = re.compile(r"\+[1-9][0-9]{6,14}")


def neutralise_formula(value: object) -> object:
    """`value`, or a string that a spreadsheet shows as text instead of evaluating it."""
    if not isinstance(value, str) or not value.startswith(FORMULA_PREFIXES) or E164_ONLY.fullmatch(value):
        return value
    return "'" + value


def neutralise_dataset(dataset: "base_formats.tablib.Dataset") -> None:
    rows = [[neutralise_formula(cell) for cell in row] for row in dataset]
    headers = [neutralise_formula(header) for header in dataset.headers or []]
    dataset.wipe()
    dataset.headers = headers
    for row in rows:
        dataset.append(row)


class SafeCSV(base_formats.CSV):
    def export_data(self, dataset: object, **kwargs: object) -> str:
        neutralise_dataset(dataset)
        return super().export_data(dataset, **kwargs)


class SafeXLSX(base_formats.XLSX):
    def export_data(self, dataset: object, **kwargs: object) -> bytes:
        neutralise_dataset(dataset)
        return super().export_data(dataset, **kwargs)
