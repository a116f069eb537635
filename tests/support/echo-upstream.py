"""An application API in another language for the e2e suites: it trusts the identity headers
authsplit-server adds ([upstream] in docs/DEPLOYMENT.md) and answers what it received as JSON.
Listens on 127.0.0.1 on a free port, prints `listening <port>` once, stops on SIGTERM."""

import json
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    seen = 0

    def _answer(self):
        Handler.seen += 1
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        out = json.dumps({
            "seen": Handler.seen,
            "method": self.command,
            "path": self.path,
            "user": self.headers.get("x-auth-request-user"),
            "email": self.headers.get("x-auth-request-email"),
            "provider": self.headers.get("x-auth-request-provider"),
            "users": self.headers.get_all("x-auth-request-user") or [],
            "cookie": self.headers.get("cookie"),
            "authorization": self.headers.get("authorization"),
            "body": body,
        }).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("set-cookie", "upstream=1")
        self.send_header("content-length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = _answer
    do_POST = _answer

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
print(f"listening {server.server_address[1]}", flush=True)
server.serve_forever()
