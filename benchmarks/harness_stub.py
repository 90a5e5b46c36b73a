"""The instant-answer OpenAI-compatible stub that benchmarks/harness.py drives, and the raw client.

The stub runs in its own process (`python benchmarks/harness_stub.py PORT`) and timestamps every
completion request it receives, so every harness is measured at the same place. The raw client is
the floor: a bare keep-alive client over raw sockets.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request

# -- the instant-answer stub (its own process) ----------------------
ANSWER = json.dumps(
    {
        "id": "c",
        "object": "chat.completion",
        "created": 0,
        "model": "stub",
        "choices": [
            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "abcdefghijklmnop"}}
        ],
        "usage": {"prompt_tokens": 600, "completion_tokens": 5, "total_tokens": 605},
    }
).encode()


class _Stub(asyncio.Protocol):
    """Minimal HTTP/1.1 keep-alive server: parses just enough to answer at once."""

    stats = {"n": 0, "first": 0.0, "last": 0.0}

    def connection_made(self, transport):
        self.transport, self.buf = transport, b""

    def data_received(self, data):
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end].lower()
            length = int(head.split(b"content-length:")[1].split(b"\r\n")[0]) if b"content-length:" in head else 0
            if len(self.buf) < end + 4 + length:
                return
            self.buf = self.buf[end + 4 + length :]
            self._answer(head.split(b" ")[1])

    def _answer(self, path: bytes):
        if path.endswith(b"/completions"):
            s, now = _Stub.stats, time.time()
            s["first"] = s["first"] if s["n"] else now
            s["n"], s["last"] = s["n"] + 1, now
            body = ANSWER
        elif path == b"/reset":
            _Stub.stats = {"n": 0, "first": 0.0, "last": 0.0}
            body = b"{}"
        elif path == b"/stats":
            body = json.dumps(_Stub.stats).encode()
        else:  # /v1/models and anything else
            body = b'{"object": "list", "data": [{"id": "stub", "object": "model"}]}'
        self.transport.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(body)).encode()
            + b"\r\n\r\n"
            + body
        )


def serve(port: int) -> int:
    async def main():
        server = await asyncio.get_running_loop().create_server(_Stub, "127.0.0.1", port, backlog=1024)
        await server.serve_forever()

    asyncio.run(main())
    return 0


def start_stub():
    """The stub in a subprocess at a free port, once it answers."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), str(port)])
    for _ in range(200):
        try:
            stub_get(f"http://127.0.0.1:{port}", "/v1/models")
            return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("the stub did not start")


def stub_get(base_url: str, path: str) -> dict:
    with urllib.request.urlopen(f"{base_url}{path}", timeout=5) as response:
        return json.loads(response.read())


# -- the floor: a bare keep-alive client over raw sockets ----------------------------------------
async def raw_client(port: int, body: bytes, n: int, concurrency: int) -> None:
    request = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    remaining = [n]

    async def connection():
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while remaining[0] > 0:
            remaining[0] -= 1
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
        writer.close()

    await asyncio.gather(*(connection() for _ in range(concurrency)))


if __name__ == "__main__":
    sys.exit(serve(int(sys.argv[1])))
