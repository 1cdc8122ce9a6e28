"""The playground's local web server: the page, its JSON API, and live updates by server-sent events.

NOTE (the choice of server): the standard library's ``http.server.ThreadingHTTPServer`` with server-sent
events (SSE). One local page needs one-way pushes (server -> page: a frame of the training state) and a few
small requests (page -> server: settings, play/pause); SSE is exactly that, over plain HTTP, and the browser's
``EventSource`` reconnects by itself. A WebSocket library (aiohttp, websockets) would add a dependency and a
second protocol for a channel the page never needs in the other direction, so NumPy stays the only runtime
dependency and ``pip install deepdive`` is enough. A thread per connection is fine for a handful of tabs.

Frames go out at a steady ``FRAME_RATE`` whatever the training speed: each SSE connection wakes every
1/FRAME_RATE s and sends a snapshot if anything changed (training runs in its own thread, see session.py).

Endpoints (all JSON unless said; errors are {"error": message} with status 400/404/413):
    GET  /                  the page;  GET /static/<file>  its script and style
    GET  /events            SSE: "frame" events (a snapshot), "points" events (the data, after a rebuild)
    GET  /api/state         one snapshot;   GET /api/points   the data points
    GET  /api/settings      {"settings", "defaults", "limits"}
    POST /api/settings      {name: value, ...}: change settings (rebuilds the model)
    POST /api/control       {"action": "play"|"pause"|"step"|"reset", "count": n}
    POST /api/explain       {"x", "y"}: backpropagation for the data point nearest to (x, y)
    POST /api/neuron        {"layer", "unit", "x", "y"}: y = σ(Σ wᵢxᵢ + b) for one neuron on that point
    GET  /api/code          the program (text/x-python);  GET /api/download  playground.zip (code + weights)
"""
import json
import math
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from urllib.parse import urlsplit

from . import settings as limits
from .settings import SettingsError

FRAME_RATE = 15                  # frames per second pushed to each page
MAX_BODY = 16 * 1024             # no request the page sends is larger than a few hundred bytes
STATIC = {"index.html": "text/html; charset=utf-8", "app.js": "text/javascript; charset=utf-8",
          "style.css": "text/css; charset=utf-8"}


def _finite(obj):
    """NaN and infinities (a diverged model) as null: JSON has no NaN, and the page's JSON.parse refuses it."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def _dumps(obj):
    try:
        return json.dumps(obj, allow_nan=False)
    except ValueError:                           # only a diverged model pays for the walk
        return json.dumps(_finite(obj), allow_nan=False)


def _static(name):
    return resources.files("deepdive.playground").joinpath("static", name).read_bytes()


class _Handler(BaseHTTPRequestHandler):
    server_version = "deepdive-playground"
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):       # quiet: the terminal shows the URL, not every request
        pass

    @property
    def session(self):
        return self.server.session

    # ------------------------------------------------------------- replies
    def _send(self, status, body, content_type, extra=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, obj, status=HTTPStatus.OK):
        self._send(status, _dumps(obj).encode(), "application/json")

    def _error(self, status, message):
        self._json({"error": message}, status)

    def _body(self):
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            raise SettingsError("playground: bad Content-Length")
        if length > MAX_BODY:
            self.close_connection = True
            raise OverflowError(f"playground: request body of {length} bytes; at most {MAX_BODY} are accepted")
        raw = self.rfile.read(length) if length else b"{}"
        try:
            body = json.loads(raw or b"{}")
        except (ValueError, UnicodeDecodeError) as e:
            raise SettingsError(f"playground: the request body is not JSON ({e})") from None
        if not isinstance(body, dict):
            raise SettingsError(f"playground: the request body must be a JSON object, got {type(body).__name__}")
        return body

    # ------------------------------------------------------------- routes
    def do_GET(self):
        path = urlsplit(self.path).path
        try:
            if path in ("/", "/index.html"):
                return self._send(HTTPStatus.OK, _static("index.html"), STATIC["index.html"])
            if path.startswith("/static/") and path[len("/static/"):] in STATIC:
                name = path[len("/static/"):]
                return self._send(HTTPStatus.OK, _static(name), STATIC[name])
            if path == "/events":
                return self._events()
            if path == "/api/state":
                return self._json(self.session.snapshot())
            if path == "/api/points":
                return self._json(self.session.points())
            if path == "/api/settings":
                return self._json({"settings": getattr(self.session, "settings", None), "defaults": limits.DEFAULTS,
                                   "limits": {"max_layers": limits.MAX_LAYERS, "max_width": limits.MAX_WIDTH,
                                              "max_steps_per_request": limits.MAX_STEPS_PER_REQUEST}})
            if path == "/api/code":
                return self._send(HTTPStatus.OK, self.session.code().encode(), "text/x-python; charset=utf-8",
                                  [("Content-Disposition", 'inline; filename="playground_model.py"')])
            if path == "/api/download":
                return self._send(HTTPStatus.OK, self.session.download(), "application/zip",
                                  [("Content-Disposition", 'attachment; filename="playground.zip"')])
            if path == "/favicon.ico":
                return self._send(HTTPStatus.NO_CONTENT, b"", "image/x-icon")
            self._error(HTTPStatus.NOT_FOUND, f"playground: no page {path!r}")
        except SettingsError as e:
            self._error(HTTPStatus.BAD_REQUEST, str(e))

    do_HEAD = do_GET

    def do_POST(self):
        path = urlsplit(self.path).path
        routes = {"/api/settings": self._settings, "/api/control": self._control, "/api/explain": self._explain,
                  "/api/neuron": self._neuron}
        if path not in routes:
            self.close_connection = True
            return self._error(HTTPStatus.NOT_FOUND, f"playground: no endpoint {path!r}")
        try:
            body = self._body()
            self._json(routes[path](body))
        except OverflowError as e:
            self._error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, str(e))
        except (SettingsError, TypeError, ValueError) as e:
            self._error(HTTPStatus.BAD_REQUEST, str(e))

    def _settings(self, body):
        return {"settings": self.session.configure(body)}

    def _control(self, body):
        unknown = set(body) - {"action", "count"}
        if unknown:
            raise SettingsError(f"playground: unknown parameter {sorted(unknown)[0]!r} for control; use action, count")
        self.session.control(body.get("action"), body.get("count", 1))
        return {"steps": self.session.steps, "running": self.session.running}

    @staticmethod
    def _point(body, names):
        unknown = set(body) - set(names)
        if unknown:
            raise SettingsError(f"playground: unknown parameter {sorted(unknown)[0]!r}; use {', '.join(names)}")
        for k in ("x", "y"):
            v = body.get(k)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not abs(v) < 1e6:
                raise SettingsError(f"playground: {k} must be a number (a point on the plane), got {v!r}")
        return float(body["x"]), float(body["y"])

    def _explain(self, body):
        return self.session.explain(*self._point(body, ("x", "y")))

    def _neuron(self, body):
        x, y = self._point(body, ("layer", "unit", "x", "y"))
        return self.session.neuron(body.get("layer"), body.get("unit"), x, y)

    def _events(self):
        """Server-sent events until the page goes away (a closed tab ends here, with a broken pipe)."""
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.close_connection = True
        sent, version, next_frame = None, None, time.monotonic()
        try:
            while not self.server.stopping.is_set():
                session = self.session
                key = (session.version, session.steps, session.running, session.error)
                if session.version != version:
                    self._event("points", session.points())
                    version = session.version
                if key != sent:
                    self._event("frame", session.snapshot())
                    sent = key
                else:
                    self.wfile.write(b": idle\n\n")     # a comment: finds a closed tab even while paused
                    self.wfile.flush()
                # NOTE: a fixed schedule, not a fixed pause: the time spent on a snapshot counts against the
                # frame's 1/FRAME_RATE s, so frames keep their rate while training competes for the CPU
                next_frame = max(next_frame + 1 / FRAME_RATE, time.monotonic())
                self.server.stopping.wait(next_frame - time.monotonic())
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError):
            pass

    def _event(self, name, data):
        self.wfile.write(f"event: {name}\ndata: {_dumps(data)}\n\n".encode())
        self.wfile.flush()


class Server(ThreadingHTTPServer):
    """The HTTP server for one session; ``url`` is where the page is; ``stop()`` ends it and its threads."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, session, host="127.0.0.1", port=0):
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(f"playground: host {host!r}: the playground serves only this machine (127.0.0.1)")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"playground: port must be 0 (any free port) to 65535, got {port!r}")
        self.session = session
        self.stopping = threading.Event()
        super().__init__((host, port), _Handler)
        self.url = f"http://{host}:{self.server_address[1]}/"
        self._thread = None

    def start(self):
        """Serve in a background thread (for watch() and tests); ``serve_forever`` serves in this one."""
        self.session.start()
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="deepdive-playground-server", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self.stopping.set()
        if self._thread is not None:
            self.shutdown()
            self._thread.join(timeout=5)
        self.server_close()
        self.session.close()


def _raise_keyboard_interrupt(signum, frame):
    raise KeyboardInterrupt


def stop_on_sigterm():
    """Make SIGTERM stop the server as Ctrl-C does (from the main thread only); returns the previous handler.
    Installed before the URL is printed, so a signal sent as soon as the URL appears already stops cleanly."""
    import signal
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)


def wait_until_stopped(server, previous_handler=None):
    """Block until Ctrl-C (or SIGTERM, see ``stop_on_sigterm``), then stop the server."""
    import signal
    try:
        while True:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        if previous_handler is not None:
            signal.signal(signal.SIGTERM, previous_handler)
