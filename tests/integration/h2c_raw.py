# h2c_raw.py: a minimal cleartext HTTP/2 client over a plain socket, for sending
# gRPC requests that no gRPC library will produce (truncated messages, a wrong
# compressed flag, a length prefix beyond the body). HPACK: requests use
# literal fields without Huffman; answers are decoded with the static and
# dynamic tables (gRPC core sends grpc-status and grpc-message without Huffman;
# a Huffman-coded value is reported as None).
# SPDX-License-Identifier: Apache-2.0
import socket
import struct
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = 0, 1, 3, 4, 6, 7, 8, 9
END_STREAM, END_HEADERS, PADDED, PRIORITY = 0x1, 0x4, 0x8, 0x20

STATIC = [None,
          (":authority", ""), (":method", "GET"), (":method", "POST"), (":path", "/"),
          (":path", "/index.html"), (":scheme", "http"), (":scheme", "https"), (":status", "200"),
          (":status", "204"), (":status", "206"), (":status", "304"), (":status", "400"),
          (":status", "404"), (":status", "500"), ("accept-charset", ""),
          ("accept-encoding", "gzip, deflate"), ("accept-language", ""), ("accept-ranges", ""),
          ("accept", ""), ("access-control-allow-origin", ""), ("age", ""), ("allow", ""),
          ("authorization", ""), ("cache-control", ""), ("content-disposition", ""),
          ("content-encoding", ""), ("content-language", ""), ("content-length", ""),
          ("content-location", ""), ("content-range", ""), ("content-type", ""), ("cookie", ""),
          ("date", ""), ("etag", ""), ("expect", ""), ("expires", ""), ("from", ""), ("host", ""),
          ("if-match", ""), ("if-modified-since", ""), ("if-none-match", ""), ("if-range", ""),
          ("if-unmodified-since", ""), ("last-modified", ""), ("link", ""), ("location", ""),
          ("max-forwards", ""), ("proxy-authenticate", ""), ("proxy-authorization", ""),
          ("range", ""), ("referer", ""), ("refresh", ""), ("retry-after", ""), ("server", ""),
          ("set-cookie", ""), ("strict-transport-security", ""), ("transfer-encoding", ""),
          ("user-agent", ""), ("vary", ""), ("via", ""), ("www-authenticate", "")]


def frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
        struct.pack(">I", stream & 0x7FFFFFFF) + payload


def _hp_int(value, prefix_bits, first=0):
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = bytearray([first | limit])
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def encode_headers(headers):
    """Literal header fields without indexing, new names, no Huffman."""
    out = b""
    for k, v in headers:
        k, v = k.encode(), v.encode()
        out += b"\x00" + _hp_int(len(k), 7) + k + _hp_int(len(v), 7) + v
    return out


class Decoder:
    def __init__(self):
        self.dyn = []  # newest first
        self.size = 0
        self.max = 4096

    def _evict(self):
        while self.size > self.max and self.dyn:
            k, v = self.dyn.pop()
            self.size -= len(k) + len(v) + 32

    def _get(self, i):
        if 0 < i < len(STATIC):
            return STATIC[i]
        return self.dyn[i - len(STATIC)]

    @staticmethod
    def _int(data, pos, bits):
        limit = (1 << bits) - 1
        v = data[pos] & limit
        pos += 1
        if v < limit:
            return v, pos
        shift = 0
        while True:
            b = data[pos]
            pos += 1
            v += (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return v, pos

    def _str(self, data, pos):
        huff = data[pos] & 0x80
        n, pos = self._int(data, pos, 7)
        s = data[pos:pos + n]
        return (None if huff else s.decode("latin-1")), pos + n

    def decode(self, data):
        out, pos = [], 0
        while pos < len(data):
            b = data[pos]
            if b & 0x80:
                i, pos = self._int(data, pos, 7)
                out.append(self._get(i))
                continue
            if b & 0xE0 == 0x20:
                self.max, pos = self._int(data, pos, 5)
                self._evict()
                continue
            inc = b & 0xC0 == 0x40
            i, pos = self._int(data, pos, 6 if inc else 4)
            if i:
                name = self._get(i)[0]
            else:
                name, pos = self._str(data, pos)
            value, pos = self._str(data, pos)
            out.append((name, value))
            if inc:
                self.dyn.insert(0, (name or "", value or ""))
                self.size += len(name or "") + len(value or "") + 32
                self._evict()
        return out


class H2Conn:
    def __init__(self, port, timeout=10.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.dec = Decoder()
        self.sock.sendall(PREFACE + frame(SETTINGS, 0, 0))
        self.next_stream = 1
        self.goaway = None

    def send(self, data):
        self.sock.sendall(data)

    def open_grpc(self, path, extra=()):
        sid = self.next_stream
        self.next_stream += 2
        hdrs = [(":method", "POST"), (":scheme", "http"), (":path", path),
                (":authority", "127.0.0.1"), ("content-type", "application/grpc"),
                ("te", "trailers")] + list(extra)
        self.send(frame(HEADERS, END_HEADERS, sid, encode_headers(hdrs)))
        return sid

    def _read_frame(self, deadline):
        while len(self.buf) < 9 or len(self.buf) < 9 + int.from_bytes(self.buf[:3], "big"):
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no complete frame in time")
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed by the server")
            self.buf += chunk
        n = int.from_bytes(self.buf[:3], "big")
        ftype, flags = self.buf[3], self.buf[4]
        sid = struct.unpack(">I", self.buf[5:9])[0] & 0x7FFFFFFF
        payload = self.buf[9:9 + n]
        self.buf = self.buf[9 + n:]
        return ftype, flags, sid, payload

    def answer(self, sid, timeout=10.0):
        """Read until stream sid ends. Returns dict: headers (list of
        (name, value) from every header block), rst (error code or None),
        goaway (error code or None), closed (connection closed first)."""
        deadline = time.monotonic() + timeout
        res = {"headers": [], "rst": None, "goaway": None, "closed": False, "data": b""}
        block, block_sid = b"", None
        while True:
            try:
                ftype, flags, fsid, payload = self._read_frame(deadline)
            except ConnectionError:
                res["closed"] = True
                return res
            if ftype == SETTINGS and not flags & 1:
                self.send(frame(SETTINGS, 1, 0))
            elif ftype == PING and not flags & 1:
                self.send(frame(PING, 1, 0, payload))
            elif ftype == GOAWAY:
                res["goaway"] = struct.unpack(">I", payload[4:8])[0]
                self.goaway = res["goaway"]
            elif ftype == RST_STREAM and fsid == sid:
                res["rst"] = struct.unpack(">I", payload[:4])[0]
                return res
            elif ftype == DATA and fsid == sid:
                res["data"] += payload
                if flags & END_STREAM:
                    return res
            elif ftype in (HEADERS, CONTINUATION) and fsid == sid:
                if ftype == HEADERS:
                    if flags & PADDED:
                        pad = payload[0]
                        payload = payload[1:len(payload) - pad]
                    if flags & PRIORITY:
                        payload = payload[5:]
                    block_sid = flags & END_STREAM
                block += payload
                if flags & END_HEADERS:
                    res["headers"] += self.dec.decode(block)
                    block = b""
                    if block_sid:
                        return res

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def grpc_message(payload, compressed=False, declared=None):
    n = len(payload) if declared is None else declared
    return bytes([1 if compressed else 0]) + struct.pack(">I", n) + payload


def status_of(res):
    """(grpc-status as int or None, grpc-message or '')."""
    st, msg = None, ""
    for k, v in res["headers"]:
        if k == "grpc-status" and v is not None:
            st = int(v)
        elif k == "grpc-message" and v is not None:
            msg = v
    return st, msg
