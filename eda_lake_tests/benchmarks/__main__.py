"""Run every benchmark and print the figures next to their targets."""

from __future__ import annotations

import sys

from eda_lake_tests.benchmarks import backbone


def main() -> int:
    failures = []
    publish = backbone.bench_publish()
    print(
        f"publish   {publish['events']:>9,.0f} events  {publish['events_per_s']:>9,.0f} events/s"
        f"   target >= 30,000 events/s"
    )
    if publish["events_per_s"] < 30_000:
        failures.append("publish")
    capture = backbone.bench_capture()
    print(
        f"capture   {capture['events']:>9,.0f} events  {capture['capture_s']:.2f} s "
        f"vs fastavro.writer {capture['fastavro_writer_s']:.2f} s  "
        f"ratio {capture['ratio']:.2f}   target <= 1.25"
    )
    if capture["ratio"] > 1.25:
        failures.append("capture")
    if failures:
        print(f"below target: {', '.join(failures)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
