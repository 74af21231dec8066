"""Contact file import: reading files (`files`), mapping columns (`columns`), the row rules (`rules`),
the preview the admin shows (`preview`) and the background job that writes (`jobs`, `writers`)."""
