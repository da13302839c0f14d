"""Figures the bench derives: cores by role over time, and the NIK-check rate against the
civil registry's quota."""

from __future__ import annotations

from loadtests.bench import nik_check_rate
from loadtests.processes import CpuTimeline, role_of


def test_components_are_grouped_by_what_they_do_in_a_spike() -> None:
    roles = {
        name: role_of(name)
        for name in (
            "registration-0",
            "registration-11",
            "assisted",
            "nginx",
            "kafka",
            "redis",
            "projector",
            "postgres",
            "verification-1",
            "civil-registry-sim",
            "mail-sink",
            "selection-worker",
            "redis-exporter",
            "nginx-exporter",
            "prometheus",
            "load-generator",
        )
    }
    assert roles == {
        "registration-0": "intake",
        "registration-11": "intake",
        "assisted": "intake",
        "nginx": "intake",
        "kafka": "intake",
        "redis": "intake",
        "projector": "decider",
        "postgres": "decider",
        "verification-1": "background",
        "civil-registry-sim": "background",
        "mail-sink": "background",
        "selection-worker": "background",
        "redis-exporter": "background",  # an exporter is not the thing it watches
        "nginx-exporter": "background",
        "prometheus": "background",
        "load-generator": "load generator",
    }


def test_window_means_take_the_samples_that_ended_inside_it() -> None:
    cpu = CpuTimeline(
        every_s=5,
        t=[5, 10, 15, 20],
        cores={"intake": [1.0, 1.4, 1.6, 0.2], "background": [0.5, 0.1, 0.1, 1.5]},
    )
    assert cpu.mean_cores(5, 15) == {"background": 0.1, "intake": 1.5}
    assert cpu.mean_cores(15, 20) == {"background": 1.5, "intake": 0.2}
    assert cpu.mean_cores(20, 30) == {}


def test_the_nik_check_rate_is_checks_done_per_second_over_the_quota() -> None:
    # 13,500 checks answered in 50 s against a quota of 300/s: 270/s, 0.9 of the quota.
    assert nik_check_rate((1_000.0, 300.0), (14_500.0, 300.0), 50.0) == {
        "nik_checks_per_s_after_spike": 270.0,
        "nik_check_rate_vs_quota": 0.9,
    }


def test_no_reading_means_no_figure_rather_than_a_wrong_one() -> None:
    nothing = {"nik_checks_per_s_after_spike": None, "nik_check_rate_vs_quota": None}
    assert nik_check_rate(None, (10.0, 300.0), 50.0) == nothing
    assert nik_check_rate((0.0, 300.0), None, 50.0) == nothing
    assert nik_check_rate((0.0, 0.0), (10.0, 0.0), 50.0) == {
        "nik_checks_per_s_after_spike": 0.2,
        "nik_check_rate_vs_quota": None,  # an unlimited registry has no quota to compare with
    }
