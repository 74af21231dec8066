"""config.daphne_tuning: the same behaviour from daphne/autobahn/Twisted, minus eight per-request and per-message costs.

Each check runs in a fresh process, as daphne does: importing daphne's server installs Twisted's reactor,
which must not leak into the test process.
"""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def probe(code: str) -> dict:
    output = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True, timeout=120,
        env={"DJANGO_SETTINGS_MODULE": "config.settings.test", "PATH": "/usr/bin:/bin"},
    ).stdout  # fmt: skip
    return json.loads(output.strip().splitlines()[-1])


def test_the_served_application_installs_the_tuning():
    check = (
        "import json; from daphne.ws_protocol import WebSocketProtocol; from config import daphne_tuning; "
        "before = WebSocketProtocol.onMessageEnd is daphne_tuning._on_message_end; import config.asgi; "
        "print(json.dumps([before, WebSocketProtocol.onMessageEnd is daphne_tuning._on_message_end]))"
    )
    assert probe(check) == [False, True]


def test_a_message_reaches_daphne_and_observers_still_fire_but_no_event_is_built_for_nobody():
    result = probe(
        "import json, daphne.server; from config import daphne_tuning; daphne_tuning.apply(); daphne_tuning.apply()\n"
        "from daphne.ws_protocol import WebSocketProtocol\n"
        "def message(protocol, parts):\n"
        "    protocol.failedByMe, protocol.message_data, protocol.message_is_binary = False, parts, False\n"
        "    protocol.trackedTimings = None\n"
        "    protocol.onMessageEnd()\n"
        "seen = []\n"
        "quiet, observed = WebSocketProtocol(), WebSocketProtocol()\n"
        "for name, protocol in (('quiet', quiet), ('observed', observed)):\n"
        "    protocol._onMessage = lambda payload, binary, name=name: seen.append([name, 'daphne', payload.decode()])\n"
        "observed.on('message', lambda payload, is_binary: seen.append(['observed', 'observer', payload.decode()]))\n"
        "message(quiet, [b'{\"event\": ', b'\"media\"}']); message(observed, [b'{}'])\n"
        "print(json.dumps({'seen': seen, 'quiet_event': quiet._results['message'] is None,"
        " 'buffer_released': quiet.message_data is None}))"
    )
    assert result["seen"] == [
        ["quiet", "daphne", '{"event": "media"}'],
        ["observed", "daphne", "{}"],
        ["observed", "observer", "{}"],
    ]
    assert result["quiet_event"] is True  # no Deferred gathered for an event nobody listens to
    assert result["buffer_released"] is True


def test_debug_log_arguments_format_to_autobahns_own_text_but_only_when_rendered():
    result = probe(
        "import json, daphne.server; import autobahn.util, autobahn.websocket.protocol as wsp\n"
        "from config import daphne_tuning; daphne_tuning.apply()\n"
        "calls = []\n"
        "style = autobahn.util.click.style\n"
        "autobahn.util.click.style = lambda *a, **k: calls.append(1) or style(*a, **k)\n"
        "lazy_type, lazy_value = wsp.hltype(wsp.WebSocketProtocol.sendData), wsp.hlval(42)\n"
        "before = len(calls)\n"
        "rendered = '{}|{}'.format(lazy_type, lazy_value)\n"
        "eager = autobahn.util.hltype(wsp.WebSocketProtocol.sendData) + '|' + autobahn.util.hlval(42)\n"
        "print(json.dumps({'styled_before_rendering': before, 'same_text': rendered == eager}))"
    )
    assert result == {"styled_before_rendering": 0, "same_text": True}


def test_daphne_requests_leave_form_bodies_unparsed_for_the_asgi_app_to_read():
    result = probe(
        "import io, json, daphne.server; from config import daphne_tuning; daphne_tuning.apply()\n"
        "from daphne.http_protocol import WebRequest\n"
        "from twisted.web.test.requesthelper import DummyChannel\n"
        "channel = DummyChannel()\n"
        "channel.factory = type('Factory', (), {'server': type('Server', (), {'protocol_connected': print})()})()\n"
        "request = WebRequest(channel)\n"
        "request.process = lambda: None  # daphne's would hand it to the application\n"
        "request.content = io.BytesIO()\n"
        "request.content.write(b'CallSid=CA1&CallStatus=ringing')  # as Twisted leaves it: at the body's end\n"
        "request.requestHeaders.setRawHeaders(b'content-type', [b'application/x-www-form-urlencoded'])\n"
        "request.requestReceived(b'POST', b'/twilio/status/x/', b'HTTP/1.1')\n"
        "print(json.dumps({'args': {k.decode(): v[0].decode() for k, v in request.args.items()},"
        " 'body': request.content.read().decode()}))"
    )
    assert result == {"args": {}, "body": "CallSid=CA1&CallStatus=ringing"}


def test_client_frames_are_unmasked_to_the_same_bytes_as_autobahns_own_masker():
    result = probe(
        "import json, os, daphne.server; import autobahn.websocket.protocol as wsp\n"
        "original = wsp.create_xor_masker\n"
        "from config import daphne_tuning; daphne_tuning.apply()\n"
        "same, kinds = True, set()\n"
        "for size in (1, 3, 4, 5, 160, 330, 4099, 64 * 1024, 64 * 1024 + 1):\n"
        "    data, mask = os.urandom(size), os.urandom(4)\n"
        "    for split in sorted({0, 1, 2, 3, 5, size // 2, size}):\n"
        "        ours, theirs = wsp.create_xor_masker(mask, size), original(mask, size)\n"
        "        kinds.add(type(ours).__name__)\n"
        "        a = bytes(ours.process(data[:split])) + bytes(ours.process(data[split:]))\n"
        "        b = bytes(theirs.process(data[:split])) + bytes(theirs.process(data[split:]))\n"
        "        same = same and a == b and ours.pointer() == theirs.pointer() == size\n"
        "print(json.dumps({'same': same, 'ours_used': 'IntXorMasker' in kinds, 'large_left': len(kinds) == 2}))"
    )
    assert result == {"same": True, "ours_used": True, "large_left": True}


def test_a_tcp_write_goes_out_at_once_when_nothing_waits_and_keeps_its_order_when_something_does():
    result = probe(
        "import json, socket, daphne.server; from config import daphne_tuning; daphne_tuning.apply()\n"
        "from twisted.internet import reactor, tcp\n"
        "from twisted.internet.protocol import Protocol\n"
        "ours, peer = socket.socketpair(); ours.setblocking(False); peer.settimeout(2)\n"
        "connection = tcp.Connection(ours, Protocol(), reactor); connection.connected = 1\n"
        "connection.writeSequence([b'head', b'ers|']); connection.write(b'frame-1|')\n"
        "at_once = peer.recv(100).decode()\n"
        "connection._tempDataBuffer.append(b'queued|'); connection._tempDataLen += 7  # as if the kernel had refused\n"
        "connection.write(b'frame-2|')\n"
        "peer.setblocking(False)\n"
        "try:\n    overtook = peer.recv(100).decode()\nexcept BlockingIOError:\n    overtook = ''\n"
        "peer.settimeout(2); connection.doWrite()\n"
        "print(json.dumps({'at_once': at_once, 'overtook': overtook, 'after': peer.recv(100).decode(),"
        " 'registered': connection in reactor.getWriters()}))"
    )
    assert result == {"at_once": "headers|frame-1|", "overtook": "", "after": "queued|frame-2|", "registered": False}


def test_twisteds_access_log_line_is_built_only_when_daphnes_verbosity_lets_it_be_seen():
    result = probe(
        "import io, json, daphne.server; from config import daphne_tuning; daphne_tuning.apply()\n"
        "from daphne.http_protocol import HTTPFactory\n"
        "written = {}\n"
        "for verbosity in (0, 1, 2, 3):\n"
        "    factory = HTTPFactory(type('Server', (), {'verbosity': verbosity})())\n"
        "    factory._logFile = io.StringIO()\n"
        "    factory._logFormatter = lambda timestamp, request: f'line for {request}'\n"
        "    factory.log('a request')\n"
        "    written[verbosity] = factory._logFile.getvalue()\n"
        "print(json.dumps(written))"
    )
    assert result == {"0": "", "1": "", "2": "line for a request\n", "3": "line for a request\n"}


def test_a_finished_request_is_forgotten_at_once_and_its_applications_error_still_logged():
    result = probe(
        "import asyncio, json, logging, daphne.server; from config import daphne_tuning; daphne_tuning.apply()\n"
        "from daphne.server import Server\n"
        "async def app(scope, receive, send):\n"
        "    await receive()\n"
        "    if scope['path'] == '/fails/': raise ValueError('boom')\n"
        "logged = []\n"
        "class Remember(logging.Handler):\n"
        "    def emit(self, record): logged.append(record.getMessage())\n"
        "logging.getLogger('daphne.server').addHandler(Remember())\n"
        "server = Server(application=app, endpoints=['tcp:port=0:interface=127.0.0.1'])\n"
        "server.connections = {}  # as run() starts it\n"
        "loop = asyncio.get_event_loop()\n"
        "seen = {}\n"
        "for path in ('/ok/', '/fails/'):\n"
        "    protocol = object()\n"
        "    server.protocol_connected(protocol)\n"
        "    queue = server.create_application(protocol, {'type': 'http', 'path': path})\n"
        "    server.protocol_disconnected(protocol)\n"
        "    seen[path + ' disconnected'] = protocol in server.connections\n"
        "    queue.put_nowait({'type': 'http.disconnect'})\n"
        "    loop.run_until_complete(asyncio.sleep(0.05))\n"
        "    seen[path + ' finished'] = protocol in server.connections\n"
        "    server.protocol_disconnected(protocol)  # a second disconnect of a forgotten one is ignored\n"
        "print(json.dumps({'kept': seen, 'logged': logged}))"
    )
    assert result["kept"] == {
        "/ok/ disconnected": True,  # its application is still running
        "/ok/ finished": False,
        "/fails/ disconnected": True,
        "/fails/ finished": False,
    }
    assert result["logged"] == ["Exception inside application: boom"]


def test_daphnes_requests_call_twisteds_http_module_itself_not_its_deprecation_proxy():
    result = probe(
        "import json, sys, daphne.server; from config import daphne_tuning; daphne_tuning.apply()\n"
        "from daphne import http_protocol\n"
        "proxy = sys.modules['twisted.web.http']\n"
        "print(json.dumps([type(proxy).__name__, type(http_protocol.http).__name__,"
        " http_protocol.http.Request is proxy.Request]))"
    )
    assert result == ["_ModuleProxy", "module", True]
