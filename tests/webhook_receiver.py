"""A real HTTP server standing in for Slack's incoming webhooks, for tests that run the DAGs.

Every POST is recorded with its path (one path per owner's connection) and JSON body, and answered 200 "ok".
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class WebhookReceiver:
    """`url` is the base address (`<url>/data`, `<url>/model` ... as connections); `posts` what arrived, in order."""

    def __init__(self) -> None:
        self.posts: list[dict] = []
        posts = self.posts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                posts.append({"path": self.path, "json": json.loads(body)})
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}/hook"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def texts(self, path: str | None = None) -> list[str]:
        return [p["json"]["text"] for p in self.posts if path is None or p["path"] == path]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
