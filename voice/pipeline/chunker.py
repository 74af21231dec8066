"""A streaming sentence chunker: LLM token deltas in, speakable chunks out, as early as is safe.

TTS sounds right on whole sentences and costs a round trip per request, so the reply is cut at
sentence ends. A sentence end is `.`, `!`, `?` or `…` (with any closing quotes or brackets) followed by
whitespace, or a line break; it is only known once the next character has arrived, which is what keeps
"3.50" and "example.com" whole. A `.` after a known abbreviation ("Mr.", "Dr.", "e.g.", "a.m.") or a
single initial ("J. Smith") does not end a sentence.

Latency: the first chunk of a reply may end early at a clause boundary (`,` `;` `:` or a dash followed
by a space) once it has `first_clause_min_words` words, so the callee hears the agent start while the
model is still writing the rest. A run with no boundary is cut at a space after `max_chars`.
"""

from dataclasses import dataclass

TERMINATORS = frozenset(".!?…")
CLAUSE_MARKS = frozenset(",;:—–")
CLOSERS = frozenset("\"')]}»”’")
OPENERS = "\"'([{«“‘"
ABBREVIATIONS = frozenset(
    # Words that also end ordinary sentences ("I am.", "no.", "on Sat.") are left out on purpose:
    # a missed split only delays audio a little, a wrong one breaks the prosody of a sentence.
    [
        "mr",
        "mrs",
        "ms",
        "mx",
        "dr",
        "prof",
        "sr",
        "jr",
        "st",
        "mt",
        "ft",
        "vs",
        "etc",
        "e.g",
        "i.e",
        "a.m",
        "p.m",
        "approx",
        "appt",
        "dept",
        "inc",
        "ltd",
        "corp",
        "jan",
        "feb",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "tues",
        "thurs",
        "ave",
        "blvd",
        "rd",
        "hrs",
        "mins",
        "secs",
        "tel",
        "ext",
        "u.s",
        "u.k",
    ]
)


@dataclass
class SentenceChunker:
    """Feed deltas with `push`, get finished chunks back; `flush` at the end of the stream returns the rest.

    One instance per reply (the first-chunk rule applies once). Chunks are stripped and never empty.
    """

    first_clause_min_words: int = 2
    max_chars: int = 250

    def __post_init__(self) -> None:
        self._buffer = ""
        self._scan_from = 0
        self._emitted_any = False

    def push(self, delta: str) -> list[str]:
        self._buffer += delta
        chunks = []
        while (cut := self._next_cut()) is not None:
            chunk, self._buffer = self._buffer[:cut].strip(), self._buffer[cut:]
            self._scan_from = 0
            if chunk:
                chunks.append(chunk)
                self._emitted_any = True
        return chunks

    def flush(self) -> str | None:
        """Whatever is left (the end of the stream ends the last sentence), or None."""
        chunk, self._buffer, self._scan_from = self._buffer.strip(), "", 0
        if not chunk:
            return None
        self._emitted_any = True
        return chunk

    def _next_cut(self) -> int | None:
        """Index just past the first boundary in the buffer, or None while undecided."""
        text = self._buffer
        i = self._scan_from
        while i < len(text):
            char = text[i]
            if char == "\n":
                return i + 1
            if char in TERMINATORS or (not self._emitted_any and char in CLAUSE_MARKS):
                end = i + 1
                while end < len(text) and (text[end] in CLOSERS or text[end] in TERMINATORS):
                    end += 1
                if end == len(text):
                    self._scan_from = i  # the next character decides
                    return None
                if text[end].isspace() and self._is_boundary(text, i, char):
                    return end
                i = end
                continue
            i += 1
        self._scan_from = len(text)
        if len(text) > self.max_chars:
            space = text.rfind(" ", 0, self.max_chars)
            return space + 1 if space > 0 else self.max_chars
        return None

    def _is_boundary(self, text: str, at: int, char: str) -> bool:
        if char in CLAUSE_MARKS:
            return len(text[:at].split()) >= self.first_clause_min_words
        if char != ".":
            return True
        before = text[:at]
        word = before.split()[-1].lstrip(OPENERS) if before.split() else ""
        if not word:
            return True
        if word.lower().rstrip(".") in ABBREVIATIONS:
            return False
        return not (len(word) == 1 and word.isalpha() and word.isupper())  # an initial: "J. Smith"
