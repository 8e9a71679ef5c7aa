"""Publishing with telemetry on (every event a publish span, sent to an OTLP/HTTP collector
on 127.0.0.1, in a process of its own so that its work is not counted) beside the same
publishing with telemetry off."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from eda_lake import telemetry
from eda_lake.settings import Settings, TelemetrySettings
from eda_lake_tests.simulation.helpers import provisioned

TRACED_CUSTOMERS = 50_000
# With telemetry on (spans made, encoded and sent), publishing takes at most twice the CPU
# it takes off: the share of its CPU time off to on, every thread of the process counted.
TARGET_CPU_SHARE = 0.5
# A collector that counts the spans it takes (a real one decodes them at native speed; the
# tests' decodes each into Python objects, slower than the exporter sends): served until its
# standard input closes, then prints the count.
COLLECTOR = """
import sys
from http.server import BaseHTTPRequestHandler
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from eda_lake_tests.telemetry.collectors import served
taken = 0
class Counting(BaseHTTPRequestHandler):
    def do_POST(self):
        global taken
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = ExportTraceServiceRequest.FromString(body)
        taken += sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
with served(Counting) as url:
    print(url, flush=True)
    sys.stdin.read()
print(taken, flush=True)
"""


def _publish(home: Path, traced: TelemetrySettings) -> tuple[float, float]:
    """Seconds to publish the population and send its spans (nothing to send when off): on
    the clock, and of the process's CPU (every thread's: the exporter's too), which a
    shared machine's load does not inflate."""
    settings = Settings(home=home, telemetry=traced)
    simulation = provisioned(settings)
    telemetry.configure(settings.telemetry)
    try:
        started, cpu = time.perf_counter(), time.process_time()
        simulation.publish_customers(seed=1, count=TRACED_CUSTOMERS)
        telemetry.shutdown()  # the batches still queued are sent
        return time.perf_counter() - started, time.process_time() - cpu
    finally:
        simulation.close()


def bench_traced_publish() -> dict[str, float]:
    collector = subprocess.Popen(
        [sys.executable, "-c", COLLECTOR], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert collector.stdin is not None and collector.stdout is not None
    url = collector.stdout.readline().strip()
    with tempfile.TemporaryDirectory() as home:
        off, off_cpu = _publish(Path(home) / "off", TelemetrySettings())
        traced = TelemetrySettings(otlp_traces_endpoint=f"{url}/v1/traces")
        on, on_cpu = _publish(Path(home) / "on", traced)
    collector.stdin.close()
    spans = int(collector.stdout.readline())
    collector.wait(timeout=60)
    return {
        "events": TRACED_CUSTOMERS,
        "off_per_s": TRACED_CUSTOMERS / off,
        "on_per_s": TRACED_CUSTOMERS / on,
        "share": off / on,
        "cpu_share": off_cpu / on_cpu,
        "cpu_us_per_event": (on_cpu - off_cpu) / TRACED_CUSTOMERS * 1e6,
        "spans": spans,
    }


if __name__ == "__main__":
    print(bench_traced_publish())
