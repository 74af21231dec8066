import pytest

from voice.pipeline.chunker import SentenceChunker


def chunk_stream(deltas: list[str], **options) -> list[str]:
    chunker = SentenceChunker(**options)
    chunks = [chunk for delta in deltas for chunk in chunker.push(delta)]
    tail = chunker.flush()
    return [*chunks, tail] if tail else chunks


def char_by_char(text: str, **options) -> list[str]:
    return chunk_stream(list(text), **options)


def test_it_cuts_at_sentence_ends_only_once_the_next_character_arrives():
    chunker = SentenceChunker(first_clause_min_words=99)
    assert chunker.push("Thanks for your time.") == []
    assert chunker.push(" Goodbye") == ["Thanks for your time."]
    assert chunker.flush() == "Goodbye"


@pytest.mark.parametrize(
    "text",
    [
        "Mr. Smith will call you back today.",
        "Dr. Jones, the dentist, sees you at 3 p.m. tomorrow.",
        "Bring an ID, e.g. a passport or a licence.",
        "Your balance is $3.50 and is due today.",
        "Visit example.com for details.",
        "J. R. Smith signed the form.",
    ],
)
def test_abbreviations_numbers_and_initials_do_not_end_a_sentence(text):
    assert char_by_char(text, first_clause_min_words=99) == [text]


def test_question_marks_exclamations_closing_quotes_and_ellipses_end_sentences():
    text = 'Is that right? Great! She said "yes." Well... okay.'
    assert char_by_char(text, first_clause_min_words=99) == [
        "Is that right?",
        "Great!",
        'She said "yes."',
        "Well...",
        "okay.",
    ]


def test_the_first_chunk_ends_early_at_a_clause_boundary_then_only_at_sentences():
    text = "Hi Maria, this is Ava from Acme Dental, calling about your visit. See you soon, bye."
    assert char_by_char(text) == [
        "Hi Maria,",
        "this is Ava from Acme Dental, calling about your visit.",
        "See you soon, bye.",
    ]


def test_a_short_first_clause_waits_for_more_words():
    assert char_by_char("Yes, I can do that.")[0] == "Yes, I can do that."


def test_thousands_separators_are_not_clause_boundaries():
    assert char_by_char("You owe 1,250 dollars in total.") == ["You owe 1,250 dollars in total."]


def test_line_breaks_end_chunks():
    assert chunk_stream(["Options:\n1 pay now\n", "2 later"]) == ["Options:", "1 pay now", "2 later"]


def test_a_long_run_without_punctuation_is_cut_at_a_space():
    text = "word " * 80
    chunks = char_by_char(text, max_chars=50)
    assert all(len(chunk) <= 50 for chunk in chunks)
    assert " ".join(chunks).split() == text.split()


def test_multi_token_deltas_give_the_same_chunks_as_single_characters():
    text = "Hello there, Mr. Lee. Your order #12.5 ships Tue. Thanks!"
    deltas = [text[i : i + 7] for i in range(0, len(text), 7)]
    assert chunk_stream(deltas) == char_by_char(text)


def test_flush_on_an_empty_or_blank_stream_returns_nothing():
    chunker = SentenceChunker()
    chunker.push("   ")
    assert chunker.flush() is None
