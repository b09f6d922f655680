"""A local OpenAI-compatible chat endpoint for tests of the ``openai`` backend (no network, no model).

``ChatServer(answer, api_key)`` listens on 127.0.0.1 at a free port; ``url`` is its ``/v1`` base URL. Every POST to
``/v1/chat/completions`` that carries ``Authorization: Bearer <api_key>`` (any, when ``api_key`` is None) and a
JSON body with ``messages`` is answered 200 with ``answer(body)`` (a chat completion payload); anything else gets
401. ``bodies`` holds every request body received, ``answered`` the number answered 200. Use it as a context
manager, or call ``close()``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["ChatServer", "text_reply"]


def text_reply(text: str) -> Callable[[dict], dict]:
    """An ``answer`` that replies ``text`` to every request."""
    return lambda body: {"choices": [{"index": 0, "message": {"role": "assistant", "content": text}}]}


class ChatServer:
    def __init__(self, answer: Callable[[dict], dict[str, Any]], api_key: str | None = None):
        self.bodies: list[dict] = []
        self.answered = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.bodies.append(body)
                ok = (self.path == "/v1/chat/completions" and bool(body.get("messages"))
                      and (api_key is None or self.headers.get("Authorization") == f"Bearer {api_key}"))
                outer.answered += ok
                data = json.dumps(answer(body) if ok else {"error": "unauthorised"}).encode()
                self.send_response(200 if ok else 401)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> ChatServer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
