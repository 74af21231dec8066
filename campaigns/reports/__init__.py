"""A campaign's report: what an operator sends on — the figures (`figures`), written as an Excel workbook and the
same sheets as CSV files in a zip (`files`), built by a task with progress and kept as files (`build`).

Everything streams: calls and targets are read with `.iterator()` in chunks and written row by row into an
openpyxl write-only workbook and into the zip's CSV members, so a campaign of any size is built in bounded
memory (BENCHMARKS.md has the 100,000-call figure).
"""
