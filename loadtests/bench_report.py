"""bench.md and bench.png from the numbers ``loadtests.bench`` measured."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display on the bench machine

import matplotlib.pyplot as plt

_COLOURS = {"ceiling": "tab:grey", "knee": "tab:orange", "sustained": "tab:blue"}


def write_markdown(path: Path, report: dict[str, Any]) -> None:
    lines = [
        "# make bench",
        "",
        "| Measure | Value |",
        "|---|---|",
    ]
    for key in (
        "intake_vs_baseline",
        "intake_per_process_per_s",
        "baseline_per_s",
        "api_cpu_vs_ceiling",
        "cpu_compared_at_per_s",
        "api_cpu_ms_per_signup",
        "baseline_cpu_ms_per_signup",
        "ceiling_cpu_ms_per_request",
        "ceiling_process_per_s",
        "sustained_accepted_per_min",
        "sustained_offered_per_min",
        "sustained_fresh_offered_per_min",
        "sustained_s",
        "p50_ms",
        "p99_ms",
        "errors",
        "statuses",
        "redis_outage_s",
        "redis_outage_at_s",
        "redis_outage_p99_ms",
        "redis_outage_statuses",
        "p99_ms_with_redis_outage",
        "lost",
        "duplicated",
        "reconciled_accepted",
        "duplicate_check",
        "repeats_sent",
        "repeats_refused_at_edge",
        "duplicates_past_edge",
        "duplicates_past_edge_not_refused",
        "duplicates_downstream",
        "officer_requests",
        "officer_p50_ms",
        "officer_p99_ms",
        "officer_max_ms",
        "officer_under_1s",
        "officer_statuses",
        "ceiling_per_s",
        "knee_per_s",
        "ceiling_ratio",
        "lag_drain_s",
        "lag_left",
        "intake_lag_drain_s",
        "intake_lag_left",
        "nik_checks_left",
        "nik_checks_per_s_after_spike",
        "nik_check_rate_vs_quota",
        "draw_1_5m_s",
        "draw_stored_1_5m_s",
        "draw_stored_steps",
        "api_instances",
        "generator",
        "run_s",
    ):
        lines.append(f"| {key} | {report.get(key)} |")
    lines += repeat_section(report)
    lines += [
        "",
        "## Knee steps (through the gateway)",
        "",
        "| offered/s | accepted/s | p50 ms | p99 ms | errors | held |",
        "|---|---|---|---|---|---|",
    ]
    for s in report.get("knee_steps", []):
        lines.append(
            f"| {s['rate_per_s']} | {s['accepted_per_s']} | {s['p50_ms']} | {s['p99_ms']} "
            f"| {s['errors']} | {'yes' if s['held'] else 'no'} |"
        )
    lines += ["", "## CPU seconds by component", "", "| Component | CPU s |", "|---|---|"]
    cpu: dict[str, float] = report.get("cpu_seconds_by_component", {})
    for name, seconds in sorted(cpu.items(), key=lambda kv: -kv[1]):
        lines.append(f"| {name} | {seconds} |")
    during = report.get("cores_by_role_during_spike", {})
    after = report.get("cores_by_role_after_spike", {})
    lines += [
        "",
        "## Cores by role, during the sustained spike and while the lag drains after it",
        "",
        "| Role | during | after |",
        "|---|---|---|",
    ]
    for role in sorted({*during, *after}):
        lines.append(f"| {role} | {during.get(role)} | {after.get(role)} |")
    lines += ["", "![throughput, latency and cores over time](bench.png)", ""]
    path.write_text("\n".join(lines))


def repeat_section(report: dict[str, Any]) -> list[str]:
    """One NIK, one registration, under a Redis outage: what the repeat attempts showed."""
    if "duplicate_check" not in report:
        return []
    past = report.get("duplicates_past_edge", 0)
    lines = [
        "",
        "## Repeat sign-ups (one NIK, one registration)",
        "",
        f"{report.get('repeats_sent')} repeat attempts of people already answered 202 (same NIK,"
        f" another email, a new Idempotency-Key); statuses {report.get('repeats_statuses')}."
        f" The edge refused {report.get('repeats_refused_at_edge')} with 409; {past} got a 202"
        f" (Redis stopped for {report.get('redis_outage_s')} s) and reached the log.",
        "",
        f"- Refused by the log as duplicates: {report.get('duplicates_refused_by_log')};"
        f" not refused: **{report.get('duplicates_past_edge_not_refused')}** (target 0);"
        " excused (the original was itself rejected):"
        f" {report.get('duplicates_past_edge_excused')}.",
        f"- Acted on downstream: **{report.get('duplicates_downstream')}** (target 0); by store"
        f" {report.get('duplicates_downstream_by_store')}, stores checked"
        f" {report.get('stores_checked')}.",
        f"- Duplicates past the edge: **{past}**, which must be > 0: with none, only the edge was"
        " tested and the log's verdict proved nothing.",
        f"- Verdict: **{report.get('duplicate_check')}**.",
    ]
    return lines


def write_png(
    path: Path, timeline: dict[str, list[Any]], cpu: dict[str, Any] | None = None
) -> None:
    fig, (top, bottom, cores) = plt.subplots(3, 1, figsize=(11, 10), sharex=True)
    for phase, colour in _COLOURS.items():
        xs = [t for t, p in zip(timeline["t"], timeline["phase"], strict=True) if p == phase]
        phases = timeline["phase"]
        accepted = [
            a for a, p in zip(timeline["accepted_per_s"], phases, strict=True) if p == phase
        ]
        p99 = [v for v, p in zip(timeline["p99_ms"], phases, strict=True) if p == phase]
        top.plot(xs, accepted, ".", markersize=3, color=colour, label=phase)
        bottom.plot(xs, p99, ".", markersize=3, color=colour, label=phase)
    top.axhline(80_000 / 60, color="red", linewidth=0.8, linestyle="--", label="80,000/min")
    top.set_ylabel("202 per second")
    top.legend(loc="upper left")
    bottom.axhline(250, color="red", linewidth=0.8, linestyle="--", label="p99 target")
    bottom.set_ylabel("p99 latency (ms)")
    bottom.set_yscale("log")
    bottom.legend(loc="upper left")
    if cpu:
        for role, series in sorted(cpu["cores"].items()):
            cores.plot(cpu["t"], series, linewidth=1, label=role)
    cores.axhline(2, color="grey", linewidth=0.8, linestyle=":", label="the machine's 2 cores")
    cores.set_ylabel("cores by role")
    cores.set_xlabel("seconds since the bench started")
    cores.legend(loc="upper left", fontsize="small")
    fig.suptitle("make bench: throughput, latency and where the cores went, over time")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
