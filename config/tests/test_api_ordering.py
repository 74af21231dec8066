"""`?ordering=` on every list: a name a client may order by is a column, so no ordering is a server error."""

import pytest
from django.test import RequestFactory
from rest_framework.filters import OrderingFilter
from rest_framework.request import Request

from config.api_router import router


@pytest.mark.parametrize(("prefix", "viewset"), [(prefix, viewset) for prefix, viewset, _ in router.registry])
@pytest.mark.django_db
def test_every_field_a_list_may_be_ordered_by_is_a_column(prefix, viewset):
    view = viewset(action="list", format_kwarg=None, request=Request(RequestFactory().get(f"/api/v1/{prefix}/")))
    view.request.user = None
    queryset = viewset.queryset
    for field, _label in OrderingFilter().get_valid_fields(queryset, view, {"request": view.request}):
        str(queryset.order_by(field).query)  # raises FieldError for a name that is not a column
