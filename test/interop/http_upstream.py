#!/usr/bin/env python3
"""An HTTP/1.1 upstream for remora's tests, on Python's own http.server (an implementation
nobody here wrote). Writes its port to argv[1] and serves until killed:
  GET  /headers      the request line and headers it received, as JSON
  POST /echo         the request body back (Content-Length or chunked)
  GET  /bytes/N      N deterministic bytes (i % 251)
  GET  /stall        never answers (for timeouts)
  GET  /peer?ms=N     after N ms, the port the request came from (which pooled connection)
  anything else      "hello <method> <path>"
Every request is appended to argv[2] (one line: method path) so a test can count them."""
import http.server, json, socket, sys, threading, time

PORT_FILE, LOG_FILE = sys.argv[1], sys.argv[2]
log_lock = threading.Lock()
PATTERN = bytes(range(251))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def record(self):
        with log_lock, open(LOG_FILE, "a") as f:
            f.write("%s %s\n" % (self.command, self.path))

    def reply(self, code, body, ctype="text/plain"):
        self.send_response(code)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def read_body(self):
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("content-length") or 0)
        return self.rfile.read(n)

    def do_GET(self):
        self.record()
        if self.path == "/headers" or self.path.startswith("/headers?"):
            body = json.dumps({"path": self.path, "headers": [[k.lower(), v] for k, v in self.headers.items()]})
            self.reply(200, body.encode(), "application/json")
        elif self.path.startswith("/bytes/"):
            n = int(self.path.split("/")[2])
            self.reply(200, (PATTERN * (n // 251 + 1))[:n], "application/octet-stream")
        elif self.path.startswith("/stall"):
            time.sleep(30)
        elif self.path.startswith("/peer"):
            ms = int(self.path.partition("ms=")[2] or 0)
            time.sleep(ms / 1000.0)
            self.reply(200, str(self.client_address[1]).encode())
        else:
            self.reply(200, ("hello %s %s" % (self.command, self.path)).encode())

    do_HEAD = do_GET

    def do_POST(self):
        self.record()
        self.reply(200, self.read_body(), "application/octet-stream")

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


srv = Server(("127.0.0.1", 0), Handler)
with open(PORT_FILE + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os
os.rename(PORT_FILE + ".tmp", PORT_FILE)
srv.serve_forever()
