"""An OTLP/HTTP trace receiver for the tracing benchmark (bench/tracing.sh).

It takes what the service exports to /v1/traces, decodes every request with opentelemetry-proto (so
an export the collector would reject counts as a failure, not as delivered), answers as a collector
does, and on SIGTERM prints how many requests and spans it received.

    python otlp_sink.py PORT
"""

import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

COUNTS = {"requests": 0, "spans": 0, "rejected": 0}
LOCK = threading.Lock()
ANSWER = ExportTraceServiceResponse().SerializeToString()


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path != "/v1/traces":
            self.send_error(404)
            return
        try:
            export = ExportTraceServiceRequest.FromString(body)
        except Exception:  # a body that is not an ExportTraceServiceRequest
            with LOCK:
                COUNTS["rejected"] += 1
            self.send_error(400)
            return
        spans = sum(len(s.spans) for r in export.resource_spans for s in r.scope_spans)
        with LOCK:
            COUNTS["requests"] += 1
            COUNTS["spans"] += spans
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(ANSWER)))
        self.end_headers()
        self.wfile.write(ANSWER)

    def log_message(self, *args):
        pass


def main():
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)

    def stop(*_):
        threading.Thread(target=server.shutdown).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever()
    print(f"otlp sink: {COUNTS['requests']} export requests, {COUNTS['spans']} spans, "
          f"{COUNTS['rejected']} rejected", flush=True)


if __name__ == "__main__":
    main()
