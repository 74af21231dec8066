"""The campaign page's charts: their figures from the calls table, and Chromium drawing them with the
project's own Chart.js with no console error."""

import datetime

import pytest

from calls.models import Call
from campaigns.charts import campaign_chart_data

PASSWORD = "a-long-test-password"
HOUR = datetime.datetime(2026, 11, 23, 14, 0, tzinfo=datetime.UTC)


@pytest.fixture
def calls_over_two_hours(campaign, contact, agent):
    plan = [(0, "completed", "agreed"), (0, "busy", ""), (0, "completed", "wrong_number"), (1, "no_answer", ""),
            (1, "completed", "agreed"), (None, "canceled", "")]  # fmt: skip
    for hours, status, disposition in plan:
        started = HOUR + datetime.timedelta(hours=hours, minutes=5) if hours is not None else None
        Call.objects.create(contact=contact, campaign=campaign, agent=agent, to_phone=contact.phone,
                            provider="simulated", status=status, disposition=disposition, started_at=started,
                            ended_at=(started or HOUR) + datetime.timedelta(seconds=30))  # fmt: skip
    return campaign


def test_the_chart_figures_come_from_the_calls(calls_over_two_hours):
    data = campaign_chart_data(campaign_id=calls_over_two_hours.pk, time_zone="UTC")

    assert dict(zip(data["outcomes"]["labels"], data["outcomes"]["counts"], strict=True)) == {
        "Agreed": 2, "Wrong number": 1, "Busy": 1, "No answer": 1, "Canceled": 1,
    }  # fmt: skip
    assert data["hours"]["labels"] == ["November 23 14:00", "November 23 15:00"]  # the language's month and day
    assert data["hours"]["placed"] == [3, 2]
    assert data["hours"]["connected"] == [2, 1]
    assert data["hours"]["connect_rate"] == [66.7, 50.0]


def test_the_hours_are_read_in_the_operators_zone(calls_over_two_hours):
    data = campaign_chart_data(campaign_id=calls_over_two_hours.pk, time_zone="America/New_York")
    assert data["hours"]["labels"] == ["November 23 09:00", "November 23 10:00"]


def test_chromium_draws_the_three_charts_with_no_console_error(
    transactional_db, live_server, django_user_model, browser, calls_over_two_hours
):
    django_user_model.objects.create_superuser("operator", "op@example.com", PASSWORD)
    page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    page.set_default_timeout(20_000)
    problems: list[str] = []
    page.on("console", lambda message: problems.append(f"{message.text} {message.location['url']}")
            if message.type == "error" else None)  # fmt: skip
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("requestfailed", lambda request: problems.append(f"failed: {request.url}"))
    page.on("response", lambda response: problems.append(f"{response.status}: {response.url}")
            if response.status >= 400 else None)  # fmt: skip
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")

    page.goto(f"{live_server.url}/admin/campaigns/campaign/{calls_over_two_hours.pk}/change/")
    page.wait_for_function("window.campaignCharts !== undefined")

    scripts = page.eval_on_selector_all("script[src]", "nodes => nodes.map(node => node.src)")
    assert all(src.startswith(live_server.url) for src in scripts)  # nothing from a CDN
    assert page.evaluate("window.Chart.version") == "4.6.1"
    drawn = page.evaluate("""() => Object.fromEntries(Object.entries(window.campaignCharts).map(
        ([name, chart]) => [name, {type: chart.config.type, points: chart.data.datasets[0].data.length,
                                   width: chart.width}]))""")
    assert drawn["outcomes"]["type"] == "doughnut"
    assert drawn["outcomes"]["points"] == 5
    assert drawn["callsPerHour"]["points"] == 2
    assert drawn["connectRate"]["type"] == "line"
    assert all(chart["width"] > 0 for chart in drawn.values())
    assert problems == [], problems
