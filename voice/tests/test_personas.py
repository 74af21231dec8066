import pytest

from voice.providers.simulated.personas import PERSONAS, SCRIPTS_BY_LANGUAGE, Say, persona_for, spoken_in


@pytest.mark.parametrize(
    ("number", "persona"),
    [
        ("+12025550140", "busy"),
        ("+12025550141", "no_answer"),
        ("+12025550142", "voicemail"),
        ("+12025550143", "answers_and_talks"),
        ("+12025550144", "asks_removal"),
        ("+12025550145", "hangs_up_mid_call"),
        ("+12025550146", "asks_callback"),
        ("+12025550147", "interrupts"),
        ("+12025550149", "answers_and_talks"),
    ],
)
def test_the_dialled_numbers_last_digit_picks_the_persona(number, persona):
    assert persona_for(number).name == persona


def test_a_setting_can_force_one_persona_for_every_number():
    assert persona_for("+12025550140", forced="voicemail").name == "voicemail"


def test_an_unknown_forced_persona_is_refused():
    with pytest.raises(ValueError, match="unknown simulated persona"):
        persona_for("+12025550140", forced="ghost")


def test_every_persona_that_answers_ends_its_script():
    assert all(p.script for p in PERSONAS.values() if p.answers)


def test_a_persona_speaks_the_agents_language_with_the_same_steps():
    english, spanish = persona_for("+34612345674"), spoken_in(persona_for("+34612345674"), "es-MX")
    assert [type(step) for step in spanish.script] == [type(step) for step in english.script]
    assert [step.text for step in spanish.script if isinstance(step, Say)] == [
        "¿Diga?",
        "No me llame más. Quíteme de su lista.",
    ]
    assert spoken_in(english, "de-DE") is english  # a language it lacks: as it is


def test_every_answering_persona_has_its_spanish_script():
    assert {name for name, p in PERSONAS.items() if p.answers} == set(SCRIPTS_BY_LANGUAGE["es"])
