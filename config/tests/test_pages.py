"""Pages an operator reaches by following links: the site root and the API docs."""

import re

import pytest
from django.contrib.staticfiles import finders

pytestmark = pytest.mark.django_db


def test_the_site_root_leads_to_the_admin(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/"


def test_the_api_docs_load_swagger_ui_from_this_site_not_a_cdn(admin_client):
    content = admin_client.get("/api/docs/").content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css|png))"', content)
    assert any("swagger-ui-bundle" in asset for asset in assets), content
    for asset in assets:
        assert asset.startswith("/static/"), asset
        assert finders.find(asset.removeprefix("/static/")), f"{asset} is not among the static files"
    assert "cdn" not in content.lower()
