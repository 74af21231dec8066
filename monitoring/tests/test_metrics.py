import pytest

from calls.models import CallStatus
from calls.services import call_transition

pytestmark = pytest.mark.django_db


def test_metrics_answer_in_prometheus_text_with_our_metrics(client, call):
    call_transition(call_id=call.pk, status=CallStatus.RINGING)
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert 'callwright_call_status_transitions_total{status="ringing"}' in text
    assert "django_http_requests_total_by_method_total" in text  # django-prometheus' own middleware
