"""Settings of the server process the webhook benchmark measures: the project's own, plus its reference views."""

from config.settings.local import *  # noqa: F403

DEBUG = False
ROOT_URLCONF = "bench.webhooks_urls"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
