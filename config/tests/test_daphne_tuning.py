"""config.daphne_tuning: the same behaviour from daphne/autobahn/Twisted, without six per-message costs.

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
