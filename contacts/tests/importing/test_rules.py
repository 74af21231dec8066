"""Rules 1–3 on single rows (`RowReader`): what each over-long or malformed cell gets."""

import pytest

from contacts.importing.columns import map_columns
from contacts.importing.rules import Outcome, RowReader

HEADER = ["first name", "last name", "phone", "email", "language", "consent", "consent date", "consent source"]


def read(**cells: str):
    row = {"phone": "+12025550143", **cells}
    reader = RowReader(columns=map_columns(HEADER), default_region="US")
    return reader.read([(2, [row.get(name.replace(" ", "_"), "") for name in HEADER])])[0]


@pytest.mark.parametrize(
    ("column", "limit", "label"),
    [("first_name", 150, "first name"), ("last_name", 150, "last name"), ("language", 16, "language"),
     ("consent_source", 200, "consent source")],
)  # fmt: skip
def test_a_cell_longer_than_its_column_rejects_the_row_naming_it(column, limit, label):
    extra = {"consent": "yes", "consent_date": "2024-01-02"} if column == "consent_source" else {}
    assert read(**{column: "x" * limit}, **extra).outcome == Outcome.CREATE
    decision = read(**{column: "x" * (limit + 1)}, **extra)
    assert (decision.outcome, decision.reason) == (Outcome.REJECTED, f"The {label} is longer than {limit} characters.")


def test_an_email_longer_than_254_characters_is_rejected_for_its_length():
    decision = read(email="a" * 64 + "@" + "b" * 186 + ".com")
    assert decision.reason == "The email is longer than 254 characters."
