import pytest

from contacts.importing.columns import map_columns
from contacts.importing.files import ImportFileError


def test_headers_match_whatever_their_case_spacing_and_separators():
    columns = map_columns(["  PHONE Number ", "First_Name", "last-name", "E-Mail", "Time Zone", "LANG", "Lists"])
    assert columns.known == {
        "phone": 0, "first_name": 1, "last_name": 2, "email": 3, "time_zone": 4, "language": 5, "lists": 6,
    }  # fmt: skip


def test_other_columns_become_custom_fields_usable_as_variables():
    columns = map_columns(["phone", "Amount Due", "Invoice #"])
    assert columns.custom == [(1, "amount_due"), (2, "invoice")]


def test_consent_columns_are_recognised():
    columns = map_columns(["phone", "Consent", "Consent Source", "Consent Date", "consent revoked at"])
    assert columns.has_consent
    assert columns.known["consent_given_at"] == 3


def test_a_file_without_a_phone_column_is_refused_naming_its_headers():
    with pytest.raises(ImportFileError, match=r"No phone column: the header row is 'name', 'email'.*nothing"):
        map_columns(["name", "email"])


def test_a_duplicated_header_keeps_the_first_column_and_says_so():
    columns = map_columns(["phone", "name", "Phone", "note", "Note"])
    assert columns.phone == 0
    assert columns.custom == [(3, "note")]
    assert any("'Phone' (column 3) repeats column 1" in warning for warning in columns.warnings)
    assert any("'Note' (column 5) repeats column 4" in warning for warning in columns.warnings)


def test_a_column_without_a_header_is_ignored_with_a_warning():
    columns = map_columns(["phone", "", "note"])
    assert columns.custom == [(2, "note")]
    assert columns.warnings == ["Column 2 has no header; its cells are ignored."]
