"""A campaign's report written out: an Excel workbook (openpyxl, write-only) and the same sheets as CSV.

Sheets: *Summary* (attempts, connect rate, human / machine, outcomes, dispositions, target states, average
duration, carrier price and estimated cost, latency p50 / p95), *Contacts* (each target's final state,
attempts, last call and the extracted fields as columns — the file a team sends back to whoever gave it the
contacts), *Heatmap* (connect rate by hour of day × weekday, in the report's zone) and *Calls* (one row per
call). Every sheet goes row by row to both the workbook and its CSV, so nothing is held whole.

Text cells are neutralised like every other export (contacts/spreadsheets.py): a callee's words that begin
with "=" are shown, never evaluated.
"""

import csv
import io
import json
import zipfile
import zoneinfo
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.formatting.rule import ColorScaleRule
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from calls.models import AnsweredBy, CallStatus
from campaigns.models import Campaign, CampaignTarget
from campaigns.reports.figures import (
    WEEKDAYS,
    Summary,
    call_rows,
    connect_heatmap,
    local,
    outcome_fields,
    target_rows,
)
from contacts.spreadsheets import FORMULA_PREFIXES, neutralise_formula

Progress = Callable[[int], None]  # called with how many rows were written since the last call
PROGRESS_EVERY = 2000
BOLD = Font(bold=True)


def cell(value: object) -> object:
    """A value a spreadsheet shows as it is: text neutralised and stripped of XML-illegal characters; dicts and
    lists as JSON text."""
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False) if value else ""
    if isinstance(value, str):
        if not value.isprintable():  # a control character somewhere (or a newline): drop those XML cannot hold
            value = ILLEGAL_CHARACTERS_RE.sub("", value)
        return neutralise_formula(value) if value.startswith(FORMULA_PREFIXES) else value
    return value


def typed(value: object) -> object:
    """An extracted field's value as a cell: numbers and booleans stay typed, the rest as text."""
    if isinstance(value, bool | int | float) or value is None:
        return value
    return cell(value)


class SheetPair:
    """One sheet written to the workbook and to its CSV member at once."""

    def __init__(self, workbook: Workbook, archive: zipfile.ZipFile, title: str, widths: Iterable[int] = ()) -> None:
        self.sheet = workbook.create_sheet(title)
        for index, width in enumerate(widths, start=1):
            self.sheet.column_dimensions[get_column_letter(index)].width = width
        self._member = archive.open(f"{title.lower()}.csv", "w", force_zip64=True)
        self._text = io.TextIOWrapper(self._member, encoding="utf-8-sig", newline="")
        self._csv = csv.writer(self._text)

    def row(self, values: list[object], *, bold: bool = False) -> None:
        cells = [cell(value) if isinstance(value, str | dict | list) else value for value in values]
        self._csv.writerow(["" if value is None else float(value) if isinstance(value, Rate) else value
                            for value in cells])  # fmt: skip
        if bold:
            self.sheet.append([self._styled(value, font=BOLD) for value in cells])
        elif any(isinstance(value, Rate) for value in cells):
            self.sheet.append([self._styled(value, number_format="0.0%") if isinstance(value, Rate) else value
                               for value in cells])  # fmt: skip
        else:
            self.sheet.append([None if value == "" else value for value in cells])

    def data_row(self, values: list[object]) -> None:
        """A row of a long sheet (contacts, calls): no styles; empty text is an empty cell, which the workbook
        does not write at all (an empty string would still be a cell)."""
        cells = [cell(value) if value.__class__ is str or isinstance(value, dict | list) else value for value in values]
        self._csv.writerow(["" if value is None else value for value in cells])
        self.sheet.append([None if value == "" else value for value in cells])

    def _styled(self, value: object, *, font: Font | None = None, number_format: str = "") -> WriteOnlyCell:
        written = WriteOnlyCell(self.sheet, value=float(value) if isinstance(value, Rate) else value)
        if font is not None:
            written.font = font
        if number_format:
            written.number_format = number_format
        return written

    def close(self) -> None:
        self._text.flush()
        self._text.detach()
        self._member.close()


class Rate(float):
    """A share (0–1): a percentage cell in the workbook, a plain number in the CSV."""


def _percent(part: int, whole: int) -> Rate | None:
    return Rate(round(part / whole, 4)) if whole else None


def write_summary(pair: SheetPair, campaign: Campaign, summary: Summary, zone_name: str, built_at: str) -> None:
    pair.row([f"Campaign report: {campaign.name}"], bold=True)
    pair.row(["Built at", built_at])
    pair.row(["Times in", zone_name])
    pair.row([])
    pair.row(["Calls", "Value"], bold=True)
    for label, value in (
        ("Call records", summary.calls),
        ("Attempts (placed with the carrier)", summary.placed),
        ("Connected (answered)", summary.connected),
        ("Connect rate", _percent(summary.connected, summary.placed)),
        ("Answered by a person", summary.human),
        ("Answered by a machine", summary.machine),
        ("Person share of answered", _percent(summary.human, summary.connected)),
        ("Average duration of answered calls (s)", round(summary.average_duration_s, 1)
         if summary.average_duration_s is not None else None),
    ):  # fmt: skip
        pair.row([label, value])
    for title, rows in (("Calls by status", summary.by_status), ("Calls by disposition", summary.by_disposition),
                        ("Targets by final state", summary.by_target_state)):  # fmt: skip
        pair.row([])
        pair.row([title, "Count"], bold=True)
        for label, count in rows:
            pair.row([label, count])
    pair.row([])
    pair.row(["Carrier price (as the carrier billed)", "Unit", "Total", "Calls priced"], bold=True)
    for provider, unit, total, count in summary.carrier_price:
        pair.row([provider, unit, float(total), count])
    if summary.cost:
        pair.row([])
        pair.row([f"Estimated cost ({summary.currency}, CALL_PRICES)", "Provider", "Total"], bold=True)
        for part, provider, total in summary.cost:
            pair.row([part, provider, float(total)])
        pair.row(["All parts", "", float(sum(total for _, _, total in summary.cost))])
    pair.row([])
    pair.row(["Reply latency (ms from the callee's end of speech)", "Replies", "p50", "p95"], bold=True)
    for stage, count, p50, p95 in summary.latency:
        pair.row([stage, count, p50, p95])


def write_contacts(pair: SheetPair, campaign: Campaign, zone: zoneinfo.ZoneInfo, progress: Progress) -> None:
    fields = outcome_fields(campaign)
    states = {code: str(label) for code, label in CampaignTarget.State.choices}
    header = ["First name", "Last name", "Phone", "Email", "Final state", "Why", "Attempts", "Calls", "Last call at",
              "Last call status", "Last outcome", "Disposition", "Sentiment", "Summary"]  # fmt: skip
    pair.row([*header, *fields], bold=True)
    written = 0
    for row in target_rows(campaign.pk):
        target, last = row.target, row.last_call or {}
        pair.data_row([
            target["contact__first_name"], target["contact__last_name"], target["contact__phone"],
            target["contact__email"], states.get(target["state"], target["state"]), target["state_reason"],
            target["attempts"], row.calls, local(last.get("created_at"), zone),
            str(CallStatus(last["status"]).label) if last else None, target["last_outcome"], row.disposition,
            row.sentiment, row.summary, *(typed(row.extracted.get(name)) for name in fields),
        ])  # fmt: skip
        written += 1
        if written % PROGRESS_EVERY == 0:
            progress(PROGRESS_EVERY)
    progress(written % PROGRESS_EVERY)


def write_heatmap(pair: SheetPair, campaign: Campaign, zone: zoneinfo.ZoneInfo) -> None:
    cells = connect_heatmap(campaign.pk, zone)
    pair.row([f"Connect rate by hour of day and weekday ({zone.key}); empty: no call placed"], bold=True)
    pair.row(["Hour", *WEEKDAYS], bold=True)
    for hour in range(24):
        rates = []
        for weekday in range(1, 8):
            placed, connected = cells.get((weekday, hour), (0, 0))
            rates.append(_percent(connected, placed))
        pair.row([f"{hour:02d}:00", *rates])
    pair.row([])
    pair.row(["Calls placed", *WEEKDAYS], bold=True)
    for hour in range(24):
        pair.row([f"{hour:02d}:00", *(cells.get((weekday, hour), (0, 0))[0] for weekday in range(1, 8))])
    # Red (low) to green (high) over the rates: the hours people answer stand out.
    pair.sheet.conditional_formatting.add(
        "B3:H26", ColorScaleRule(start_type="num", start_value=0, start_color="F8696B", mid_type="num",
                                 mid_value=0.5, mid_color="FFEB84", end_type="num", end_value=1, end_color="63BE7B"),
    )  # fmt: skip


def write_calls(pair: SheetPair, campaign: Campaign, zone: zoneinfo.ZoneInfo, progress: Progress) -> None:
    fields = outcome_fields(campaign)
    answered_by = {code: str(label) for code, label in AnsweredBy.choices}
    pair.row(["Call", "Placed", "Answered", "Ended", "Status", "Answered by", "Duration (s)", "Outcome",
              "Disposition", "Sentiment", "Summary", "Carrier price", "Carrier", "Number dialled", "Contact id",
              "Analysis", "Estimated cost", *fields], bold=True)  # fmt: skip
    written = 0
    for call in call_rows(campaign.pk):
        extracted = call["extracted_data"] if isinstance(call["extracted_data"], dict) else {}
        pair.data_row([
            str(call["id"]), local(call["started_at"], zone),
            local(call["answered_at"], zone), local(call["ended_at"], zone), str(CallStatus(call["status"]).label),
            answered_by.get(call["answered_by"], call["answered_by"]), call["duration_seconds"], call["outcome"],
            call["disposition"], call["sentiment"], call["summary"],
            float(call["price"]) if call["price"] is not None else None, call["provider"],
            call["to_phone"], call["contact_id"], call["analysis_status"],
            float(call["cost"]) if call["cost"] is not None else None,
            *(typed(extracted.get(name)) for name in fields),
        ])  # fmt: skip
        written += 1
        if written % PROGRESS_EVERY == 0:
            progress(PROGRESS_EVERY)
    progress(written % PROGRESS_EVERY)


def write_report(
    *,
    campaign: Campaign,
    summary: Summary,
    zone: zoneinfo.ZoneInfo,
    built_at: str,
    workbook_out: Any,
    archive_out: Any,
    progress: Progress,
) -> None:
    """Write the report's workbook to `workbook_out` and its CSV zip to `archive_out` (binary files)."""
    workbook = Workbook(write_only=True)
    # Level 1: CSV text compresses nearly as well, in a fraction of the default level's time.
    with zipfile.ZipFile(archive_out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        writers: Iterator[tuple[str, tuple[int, ...], Callable[[SheetPair], None]]] = iter((
            ("Summary", (48, 14, 14, 14), lambda pair: write_summary(pair, campaign, summary, zone.key, built_at)),
            ("Contacts", (14, 14, 16, 24, 12, 30), lambda pair: write_contacts(pair, campaign, zone, progress)),
            ("Heatmap", (10,) * 8, lambda pair: write_heatmap(pair, campaign, zone)),
            ("Calls", (38, 18, 18, 18, 18, 12, 18), lambda pair: write_calls(pair, campaign, zone, progress)),
        ))  # fmt: skip
        for title, widths, write in writers:
            pair = SheetPair(workbook, archive, title, widths)
            try:
                write(pair)
            finally:
                pair.close()
    workbook.save(workbook_out)
