"""The project's URLs plus `/bench/empty/`: an empty Django view, the ceiling Django sets on this daphne."""

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from config.urls import urlpatterns as project_urlpatterns


@csrf_exempt
def empty(request: HttpRequest) -> HttpResponse:
    return HttpResponse(status=204)


urlpatterns = [path("bench/empty/", empty), *project_urlpatterns]
