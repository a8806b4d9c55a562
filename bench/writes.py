"""The load of the benchmark's create and delete operations (bench/bench.py).

oha draws each request's URL at random, with replacement: a second PUT of a URL replaces the book
instead of creating it, and a second DELETE is a 404. A create and a delete must each hit a key of
their own, so this driver hands every request its own book: creates PUT fresh titles, and deletes
DELETE the books those creates made, each exactly once. Like oha it keeps `concurrency` HTTP/1.1
connections busy, and it reports the same figures (requests, status codes, req/s, p50/p99).
"""

import asyncio
import json
import statistics
import time
import uuid
from collections import deque

from gen_data import seg


def creates(books, rng):
    """Endless (path, body) pairs: a new title under an existing author, in an existing category."""
    authors = sorted({b["author"] for b in books})
    categories = sorted({b["category"] for b in books})
    while True:
        path = f"/books/{seg(rng.choice(authors))}/{seg('Bench ' + uuid.uuid4().hex)}"
        body = json.dumps({"category": rng.choice(categories),
                           "formats": {"Hardcover": "BENCH001"}}).encode()
        yield path, body


async def _worker(port, method, work, token, deadline, latencies, codes, done):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = f"Host: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
    try:
        while time.monotonic() < deadline:
            try:
                path, body = next(work)
            except StopIteration:
                return
            extra = f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n" if body else ""
            started = time.perf_counter()
            writer.write(f"{method} {path} HTTP/1.1\r\n{head}{extra}\r\n".encode() + body)
            status = int((await reader.readline()).split()[1])
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if length:
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            codes[str(status)] = codes.get(str(status), 0) + 1
            if 200 <= status < 300:
                done.append(path)
    finally:
        writer.close()


def run(port, method, work, token, concurrency, seconds):
    """Sends `method` requests for the (path, body) pairs of `work` over `concurrency` connections
    until `seconds` pass or `work` runs out; returns oha's figures plus the paths that succeeded."""
    latencies, codes, done = [], {}, deque()
    work = iter(work)

    async def main():
        deadline = time.monotonic() + seconds
        await asyncio.gather(*(_worker(port, method, work, token, deadline, latencies, codes, done)
                               for _ in range(concurrency)))

    started = time.perf_counter()
    asyncio.run(main())
    took = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [float("nan")] * 99
    return {"requests": len(latencies), "status_codes": codes, "rps": len(latencies) / took,
            "p50_ms": cuts[49] * 1000, "p99_ms": cuts[98] * 1000, "done": list(done)}
