from voice.pipeline.templating import Rendered, render, template_variables


def test_it_fills_standard_and_custom_fields():
    variables = template_variables({"first_name": "Maria"}, {"Amount Due": 42.5, "clinic": "Acme Dental"})
    rendered = render("Hi {{ first_name }}, {{clinic}} here about {{amount_due}} dollars.", variables)
    assert rendered == Rendered("Hi Maria, Acme Dental here about 42.5 dollars.", ())


def test_standard_fields_win_over_a_custom_field_of_the_same_name():
    variables = template_variables({"first_name": "Maria"}, {"first_name": "Imported"})
    assert render("{{first_name}}", variables).text == "Maria"


def test_unknown_variables_render_empty_and_are_reported_once_in_order():
    rendered = render("Hello {{first_name}}, about {{plan}} and {{first_name}}.", {})
    assert rendered.text == "Hello, about and."
    assert rendered.missing == ("first_name", "plan")


def test_a_fallback_fills_a_missing_or_empty_value_and_is_not_reported():
    rendered = render("Hello {{ first_name | there }}!", {"first_name": ""})
    assert rendered == Rendered("Hello there!", ())


def test_no_code_runs_and_other_braces_stay_as_written():
    template = "{{ __import__('os').system('echo hi') }} {% if x %}{{x.__class__}}{% endif %} {single} {{ unclosed"
    rendered = render(template, {"x": "X"})
    assert "__import__" not in rendered.text
    assert "{% if x %}" in rendered.text
    assert "{single} {{ unclosed" in rendered.text
    assert rendered.missing == ("__import__('os').system('echo hi')", "x.__class__")


def test_values_are_inserted_verbatim_never_re_rendered():
    rendered = render("Note: {{note}}", {"note": "{{secret}}", "secret": "leak"})
    assert rendered.text == "Note: {{secret}}"


def test_nested_and_none_values_are_left_out_of_the_variables():
    assert template_variables({"last_name": None}, {"tags": ["a"], "meta": {"k": 1}, "ok": 0}) == {"ok": "0"}
