"""A slow Twilio Messages API on loopback that counts every request it receives (for cross-process tests)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


class LoopbackTwilio:
    def __init__(self, delay: float):
        self.delay = delay
        self.received: list[dict] = []  # every POST, recorded on arrival (before the slow answer)
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return None

            def do_POST(self) -> None:
                form = {
                    k: v[0] for k, v in parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode()).items()
                }
                with outer.lock:
                    sid = f"SM{len(outer.received):032d}"
                    outer.received.append({"sid": sid, "to": form["To"], "body": form["Body"]})
                time.sleep(outer.delay)
                self._json(201, {"sid": sid, "status": "queued"})

            def do_GET(self) -> None:
                to = parse_qs(urlparse(self.path).query).get("To", [None])[0]
                with outer.lock:
                    messages = [m for m in outer.received if m["to"] == to]
                self._json(200, {"messages": messages})

            def _json(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client was killed mid-request

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> LoopbackTwilio:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
