#!/usr/bin/env python3
"""A backend for remora's resilience tests, on Python's http.server (threaded, keep-alive).
  argv: PORT_FILE NAME LOG_FILE MODE_FILE [PORT]   (PORT: listen there, e.g. after a restart)
Every request is appended to LOG_FILE (one line: "NAME METHOD PATH") so a test can count the
attempts that reached each backend. The reply depends on MODE_FILE, read per request:
  ok              200 "NAME"                  (also when the file is missing or empty)
  503             503 for every request
  half503         every second request is 503, the others 200
  slow MS         200 after MS milliseconds
  slow503 MS      503 after MS milliseconds
  ratelimited     429 with x-envoy-ratelimited: true
  health503       /health answers 503, every other path 200 (a failing health check)
Paths override the mode: /slow/MS sleeps MS ms then answers 200; /status/N answers N."""
import http.server, os, sys, threading, time

PORT_FILE, NAME, LOG_FILE, MODE_FILE = sys.argv[1:5]
lock = threading.Lock()
count = [0]


def mode():
    try:
        with open(MODE_FILE) as f:
            return f.read().split()
    except OSError:
        return []


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, code, extra=()):
        body = NAME.encode()
        self.send_response(code)
        for k, v in extra:
            self.send_header(k, v)
        self.send_header("content-type", "text/plain")
        self.send_header("content-length", str(len(body)))
        self.send_header("x-backend", NAME)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_any(self):
        n = int(self.headers.get("content-length") or 0)
        if n:
            self.rfile.read(n)
        with lock:
            count[0] += 1
            seq = count[0]
            with open(LOG_FILE, "a") as f:
                f.write("%s %s %s\n" % (NAME, self.command, self.path))
        parts = self.path.split("?")[0].strip("/").split("/")
        if parts[0] == "slow" and len(parts) > 1:
            time.sleep(int(parts[1]) / 1000.0)
            return self.reply(200)
        if parts[0] == "status" and len(parts) > 1:
            return self.reply(int(parts[1]))
        m = mode()
        if m and m[0] == "health503":
            return self.reply(503 if parts[0] == "health" else 200)
        if not m or m[0] == "ok":
            return self.reply(200)
        if m[0] == "503":
            return self.reply(503)
        if m[0] == "half503":
            return self.reply(503 if seq % 2 == 0 else 200)
        if m[0] == "slow":
            time.sleep(int(m[1]) / 1000.0)
            return self.reply(200)
        if m[0] == "ratelimited":
            return self.reply(429, [("x-envoy-ratelimited", "true")])
        if m[0] == "slow503":
            time.sleep(int(m[1]) / 1000.0)
            return self.reply(503)
        self.reply(500)

    do_GET = do_POST = do_HEAD = handle_any


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512


srv = Server(("127.0.0.1", int(sys.argv[5]) if len(sys.argv) > 5 else 0), Handler)
with open(PORT_FILE + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(PORT_FILE + ".tmp", PORT_FILE)
srv.serve_forever()
