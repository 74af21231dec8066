"""Callback times from the callee's own words, in their language and zone, inside the legal hours."""

import datetime

import pytest

from voice.pipeline.callback_times import callback_time

NOW = datetime.datetime(2026, 11, 23, 14, 0, tzinfo=datetime.UTC)  # Monday; 15:00 in Madrid, 08:00 in Mexico City


@pytest.mark.parametrize(
    ("when", "language", "zone", "expected"),
    [
        ("call me tomorrow at five", "en-US", "America/New_York", "2026-11-24T17:00:00-05:00"),
        ("llámeme mañana a las cinco", "es-ES", "Europe/Madrid", "2026-11-24T17:00:00+01:00"),
        ("llámame mañana a las cinco", "es-MX", "America/Mexico_City", "2026-11-24T17:00:00-06:00"),
        ("mañana por la tarde", "es-ES", "Europe/Madrid", "2026-11-24T15:00:00+01:00"),
        ("el próximo lunes a las once", "es-ES", "Europe/Madrid", "2026-11-30T11:00:00+01:00"),
        ("en dos horas", "es-ES", "Europe/Madrid", "2026-11-23T17:00:00+01:00"),
        ("tomorrow at 9:30am", "en-US", "America/New_York", "2026-11-24T09:30:00-05:00"),
        ("friday at 5 pm", "en-GB", "Europe/London", "2026-11-27T17:00:00+00:00"),
        ("2026-11-24 10:30", "es-ES", "Europe/Madrid", "2026-11-24T10:30:00+01:00"),
        ("mañana a las cinco de la tarde", "es-ES", "Europe/Madrid", "2026-11-24T17:00:00+01:00"),
        ("el viernes a las 10 de la mañana", "es-ES", "Europe/Madrid", "2026-11-27T10:00:00+01:00"),
        ("pasado mañana a las once", "es-MX", "America/Mexico_City", "2026-11-25T11:00:00-06:00"),
        ("en media hora", "es-ES", "Europe/Madrid", "2026-11-23T15:30:00+01:00"),
        ("tomorrow at 5 in the afternoon", "en-US", "America/New_York", "2026-11-24T17:00:00-05:00"),
        ("Ahora estoy conduciendo. Llámeme mañana a las cinco.", "es-ES", "Europe/Madrid", "2026-11-24T17:00:00+01:00"),
    ],
)
def test_the_callees_words_become_an_instant_in_their_zone(when, language, zone, expected):
    assert callback_time(when, now=NOW, time_zone=zone, language=language).isoformat() == expected


@pytest.mark.parametrize(
    ("when", "problem"),
    [
        ("tomorrow at 5am", "outside the legal calling hours 08:00–21:00"),
        ("mañana a las 22:00", "outside the legal calling hours 08:00–21:00"),
        ("mañana a las diez de la noche", "outside the legal calling hours 08:00–21:00"),
        ("tomorrow at 25:00", "no such time of day"),
        ("cuando quiera", "could not read the time"),
        ("ayer", "in the past"),
    ],
)
def test_times_it_cannot_use_are_errors_the_model_can_correct(when, problem):
    with pytest.raises(ValueError, match=problem):
        callback_time(when, now=NOW, time_zone="Europe/Madrid", language="es-ES")
