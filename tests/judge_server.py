"""A real OpenAI-compatible chat endpoint on localhost, for testing the llm judge.

It answers "5" when the description to rate mentions the event's first key element and "1"
otherwise, records every request's headers and body, and can fail the first N requests.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class JudgeServer:
    def __init__(self, fail_first: int = 0, status: int = 503):
        self.requests: list[dict] = []
        self.fail_first, self.status = fail_first, status
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server._lock:
                    server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                    failing = server.fail_first > 0
                    server.fail_first -= failing
                if failing:
                    self.send_error(server.status)
                    return
                prompt = body["messages"][-1]["content"]
                first_key = re.search(r"Key elements: ([^,\n]+)", prompt).group(1).strip().lower()
                answer = re.search(r"Description to rate: (.*)\n", prompt).group(1).lower()
                reply = {"choices": [{"message": {"role": "assistant", "content": "5" if first_key in answer else "1"}}]}
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "JudgeServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def closed_port_url() -> str:
    """A localhost URL on which nothing listens."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"
