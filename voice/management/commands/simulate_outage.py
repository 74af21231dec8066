from django.core.cache import cache
from django.core.management.base import BaseCommand, CommandParser

from voice.providers.speech_selection import SIMULATED_OUTAGE_CACHE_KEY


class Command(BaseCommand):
    help = (
        "Switch a simulated voice outage on or off: while on, the simulated text-to-speech fails for every call "
        "that starts (fallback phrases, provider errors, an open breaker, the alerts that watch them)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("state", choices=["on", "off"])

    def handle(self, *args: object, **options: object) -> None:
        if options["state"] == "on":
            cache.set(SIMULATED_OUTAGE_CACHE_KEY, True, timeout=None)
            self.stdout.write("simulated voice outage: on (new calls' voice fails); `simulate_outage off` ends it")
        else:
            cache.delete(SIMULATED_OUTAGE_CACHE_KEY)
            self.stdout.write("simulated voice outage: off")
