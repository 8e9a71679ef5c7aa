"""Run every benchmark and print the figures next to their targets."""

from __future__ import annotations

import os
import sys

from eda_lake_tests.benchmarks import (
    backbone,
    big_files,
    cli,
    dagster_runs,
    evolution,
    hub_layout,
    kafka,
    lake,
    publish_to_gold,
    scale,
    telemetry,
    trace,
)


def main() -> int:
    load = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} cores, load average {load:.2f} at the start")
    failures = []
    help_page = cli.bench_help()
    print(
        f"--help    {help_page['median_s']:.3f} s median (max {help_page['max_s']:.3f} s)"
        f"   target < 0.3 s"
    )
    if help_page["median_s"] >= 0.3:
        failures.append("--help")
    publish = backbone.bench_publish()
    print(
        f"publish   {publish['events']:>9,.0f} events  {publish['events_per_s']:>9,.0f} events/s"
        f"   target >= 30,000 events/s"
    )
    if publish["events_per_s"] < 30_000:
        failures.append("publish")
    traced = telemetry.bench_traced_publish()
    print(
        f"traced publish {traced['events']:,.0f} events: telemetry on "
        f"{traced['on_per_s']:,.0f} events/s vs off {traced['off_per_s']:,.0f} "
        f"({traced['share']:.2f}x); "
        f"CPU {traced['cpu_share']:.2f}x off's, {traced['cpu_us_per_event']:.0f} us per event "
        f"({traced['spans']:,.0f} spans received)   target CPU >= {telemetry.TARGET_CPU_SHARE}x"
    )
    if traced["cpu_share"] < telemetry.TARGET_CPU_SHARE or traced["spans"] != traced["events"]:
        failures.append("traced publish")
    capture = backbone.bench_capture()
    print(
        f"capture   {capture['events']:>9,.0f} events  {capture['capture_s']:.2f} s "
        f"vs fastavro.writer {capture['fastavro_writer_s']:.2f} s  "
        f"ratio {capture['ratio']:.2f}   target <= 1.25"
    )
    if capture["ratio"] > 1.25:
        failures.append("capture")
    kafka_publish = kafka.bench_kafka_publish()
    print(
        f"kafka publish {kafka_publish['events']:>9,.0f} events  "
        f"{kafka_publish['events_per_s']:>9,.0f} events/s   target >= 30,000 events/s "
        f"(the embedded hub: {publish['events_per_s']:,.0f} events/s above)"
    )
    if kafka_publish["events_per_s"] < 30_000:
        failures.append("kafka publish")
    kafka_capture = kafka.bench_kafka_capture()
    print(
        f"kafka capture {kafka_capture['events']:>9,.0f} events  {kafka_capture['kafka_s']:.2f} s "
        f"vs the embedded capture {kafka_capture['embedded_s']:.2f} s  "
        f"ratio {kafka_capture['ratio']:.2f}   target <= 1.5"
    )
    if kafka_capture["ratio"] > 1.5:
        failures.append("kafka capture")
    print(
        f"hubs      the seeded chain of {hub_layout.CUSTOMERS:,} customers on each catalogue, "
        f"median of {hub_layout.ROUNDS}"
    )
    print(hub_layout.table(hub_layout.bench_hub_layouts()))
    bronze_s_per_million: dict[str, float] = {}  # beside the event index's upkeep below
    for label, (files, partitions, shape) in {
        "ours, 8 files": (2, 4, "ours"),
        "ours, 1 file": (1, 1, "ours"),
        "foreign, 8 files": (2, 4, "foreign"),
        "foreign, 1 file": (1, 1, "foreign"),
    }.items():
        bronze = lake.bench_bronze(files, partitions, shape)
        bronze_s_per_million[label] = 1_000_000 / bronze["bronze_per_s"]
        print(
            f"bronze    {bronze['events']:>9,.0f} events  {bronze['bronze_per_s']:>9,.0f} events/s "
            f"vs fastavro iteration {bronze['fastavro_per_s']:,.0f}/s: in-process "
            f"{bronze['ratio']:.2f}x (target >= 2.0), whole `eda-lake ingest` "
            f"{bronze['process_ratio']:.2f}x (target >= 1.5), peak RSS "
            f"{bronze['peak_rss_mb']:.0f} MB (target <= 512); {label}, largest "
            f"{bronze['largest_file_mb']:.0f} MB"
        )
        if bronze["ratio"] < 2.0 or bronze["process_ratio"] < 1.5 or bronze["peak_rss_mb"] > 512:
            failures.append(f"bronze ({label})")
    for label, big in big_files.bench_big_files().items():
        target = float(big["target_mb"])
        print(
            f"big file  {label}: {big['file_mb']:,.0f} MB, {big['events']} events landed, "
            f"quarantined: {big['quarantined']}, {big['seconds']:.1f} s, whole `eda-lake "
            f"ingest` peak RSS {big['peak_rss_mb']:.0f} MB"
            + (f" (target <= {target:.0f})" if target else " (no target)")
        )
        if big["as_expected"] != "yes" or (target and float(big["peak_rss_mb"]) > target):
            failures.append(f"big file ({label})")
    silver = lake.bench_silver()
    for shape, label in [("ours", "our shape (CustomerCreated)"), ("foreign", "a foreign shape")]:
        got = silver[shape]
        vs_fastavro = got["silver_per_s"] / got["fastavro_per_s"]
        vs_ingest = got["silver_per_s"] / got["ingest_per_s"]
        print(
            f"silver    {got['events']:>9,.0f} events, {label}: whole `eda-lake silver` "
            f"{got['silver_per_s']:,.0f} events/s, {vs_fastavro:.2f}x fastavro's "
            f"schemaless_reader ({got['fastavro_per_s']:,.0f}/s; target >= 1.5), "
            f"{vs_ingest:.2f}x `eda-lake ingest` ({got['ingest_per_s']:,.0f}/s; target >= 0.6), "
            f"peak RSS {got['peak_rss_mb']:.0f} MB (target <= 512)"
        )
        if vs_fastavro < 1.5 or vs_ingest < 0.6 or got["peak_rss_mb"] > 512:
            failures.append(f"silver ({shape})")
    others = silver["others_only"]
    print(
        f"silver    a lake of {silver['foreign']['events']:,.0f} other producers' events only: "
        f"{others['seconds']:.2f} s, {others['share']:.1%} of silver on as many of ours "
        f"(target < 10%), peak RSS {others['peak_rss_mb']:.0f} MB; a silver run with nothing "
        f"new on our lake: {silver['nothing_new']['seconds']:.2f} s"
    )
    if others["share"] >= 0.1:
        failures.append("silver (others only)")
    upgrade = evolution.bench_table_upgrade()
    print(
        f"upgrade   {upgrade['rows']:>9,.0f} rows    {upgrade['rows_per_s']:>9,.0f} rows/s "
        f"rewriting silver for an added field, peak RSS {upgrade['rewrite_rss_mb']:.0f} MB "
        f"(a process that only opens the lake: {upgrade['baseline_rss_mb']:.0f} MB; the table "
        f"in memory: {upgrade['table_mb']:.0f} MB; target <= 512); the check a run makes "
        f"first: {upgrade['check_s'] * 1000:.0f} ms (target < 100 ms)"
    )
    if upgrade["rewrite_rss_mb"] > 512 or upgrade["check_s"] >= 0.1:
        failures.append("upgrade")
    tick = lake.bench_sensor_tick()
    print(
        f"sensor    {tick['files']:>9,.0f} files   {tick['seconds']:.3f} s for a tick finding "
        f"{tick['new_found']:.0f} new   target < 1 s"
    )
    if tick["seconds"] >= 1.0 or tick["new_found"] != 10:
        failures.append("sensor")
    growth = scale.bench_lake_growth()
    print(
        f"growth    nothing new: {growth['small_idle_s']:.2f} s small vs "
        f"{growth['large_idle_s']:.2f} s 200x larger, ratio {growth['idle_ratio']:.2f} "
        f"(target <= 1.5); 300 new customers: {growth['small_new_s']:.2f} s vs "
        f"{growth['large_new_s']:.2f} s, ratio {growth['new_ratio']:.2f} (target <= 2.0)"
    )
    if growth["idle_ratio"] > 1.5 or growth["new_ratio"] > 2.0:
        failures.append("growth")
    decide = scale.bench_decide_new()
    print(
        f"decide    10 announced files: {decide['small_s'] * 1000:.1f} ms with 1k ingested vs "
        f"{decide['large_s'] * 1000:.1f} ms with 200k (medians over the 10 commits after a "
        f"checkpoint), ratio {decide['ratio']:.2f}, worst {decide['worst_ratio']:.2f} "
        f"(target <= 2.0)"
    )
    if decide["worst_ratio"] > 2.0:
        failures.append("decide")
    lookup = trace.bench_trace_lookup()
    print(
        f"trace     an event and its trace by id: {lookup['small_s'] * 1000:.1f} ms on "
        f"{lookup['small_events']:,.0f} events vs {lookup['large_s'] * 1000:.1f} ms on "
        f"{lookup['large_events']:,.0f} (medians), ratio {lookup['ratio']:.2f} (target <= 1.5); "
        f"event index {lookup['small_files']:.0f} vs {lookup['large_files']:.0f} files, "
        f"kept in {lookup['small_indexing_s']:.1f} s vs {lookup['large_indexing_s']:.1f} s: "
        f"{lookup['large_indexing_s'] / lookup['large_events'] * 1e6:.1f} s per million events, "
        f"bronze's ingest of a million {bronze_s_per_million['ours, 8 files']:.1f} s "
        f"(ingestion would keep the index if that were under a quarter)"
    )
    print(
        f"trace     eda-lake trace EVENT_ID but printing: {lookup['small_trace_s'] * 1000:.1f} ms "
        f"vs {lookup['large_trace_s'] * 1000:.1f} ms (medians), ratio "
        f"{lookup['trace_ratio']:.2f} (target <= 1.5)"
    )
    if lookup["ratio"] > 1.5:
        failures.append("trace lookup")
    if lookup["trace_ratio"] > 1.5:
        failures.append("trace command")
    runs = dagster_runs.bench_runs()
    print(
        f"dagster   platform run {runs['platform_s']:.1f} s, ingest run with nothing new "
        f"{runs['idle_ingest_s']:.1f} s (first ingest of 1,000 customers "
        f"{runs['ingest_s']:.1f} s)   target < 15 s each"
    )
    if max(runs["platform_s"], runs["idle_ingest_s"]) >= 15:
        failures.append("dagster runs")
    fresh = publish_to_gold.bench_publish_to_gold()
    print(
        f"freshness {fresh['events']:,.0f} events over {fresh['windows']:.0f} capture windows of "
        f"{publish_to_gold.WINDOW_S} s, publish to gold through dagster-daemon: p95 "
        f"{fresh['p95_s']:.0f} s (target <= {publish_to_gold.TARGET_P95_S} s), "
        f"p50 {fresh['p50_s']:.0f} s, "
        f"max {fresh['max_s']:.0f} s, {fresh['missing']:.0f} batch(es) not in gold"
    )
    if fresh["p95_s"] > publish_to_gold.TARGET_P95_S:
        failures.append("publish to gold")
    if failures:
        print(f"below target: {', '.join(failures)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
