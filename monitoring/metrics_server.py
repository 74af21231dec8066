"""`python -m monitoring.metrics_server`: serve the processes' metrics of this container on METRICS_PORT.

For docker's web containers: uvicorn's worker processes write their metrics into PROMETHEUS_MULTIPROC_DIR and
this small process (started beside them by docker/start-web) serves them added up, as the Celery parents
do for theirs. Prometheus finds every container by DNS and scrapes it by address — which Django's
ALLOWED_HOSTS would refuse on web's own /metrics, while this server answers any Host. It needs no Django.
"""

import os
import signal
import sys
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.multiprocess import MultiProcessCollector


def serve_multiprocess_metrics(port: int) -> WSGIServer:
    """An HTTP server on a daemon thread answering /metrics from the multiprocess folder."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    server, _thread = start_http_server(port, registry=registry)
    return server


def main() -> int:
    port, folder = os.environ.get("METRICS_PORT", ""), os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
    if not port or not folder:
        print("metrics_server: set METRICS_PORT and PROMETHEUS_MULTIPROC_DIR", file=sys.stderr)
        return 2
    serve_multiprocess_metrics(int(port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        signal.pause()


if __name__ == "__main__":
    sys.exit(main())
