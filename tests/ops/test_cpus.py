"""The worker count in production: the container's CPU quota (cgroup v2 or v1) when one is set."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from service.ops.cpus import available_cpus, cgroup_cpu_quota


def write(root: Path, name: str, text: str) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.mark.parametrize(
    ("content", "quota"),
    [
        ("200000 100000\n", 2.0),
        ("150000 100000\n", 1.5),
        ("50000 100000\n", 0.5),
        ("max 100000\n", None),  # no limit
        ("garbage\n", None),
        ("", None),
    ],
)
def test_cgroup_v2_cpu_max(tmp_path: Path, content: str, quota: float | None) -> None:
    write(tmp_path, "cpu.max", content)
    assert cgroup_cpu_quota(tmp_path) == quota


@pytest.mark.parametrize("folder", ["cpu", "cpu,cpuacct"])
@pytest.mark.parametrize(
    ("quota_us", "period_us", "quota"),
    [
        ("300000", "100000", 3.0),
        ("25000", "100000", 0.25),
        ("-1", "100000", None),  # no limit
        ("100000", "0", None),
    ],
)
def test_cgroup_v1_cfs_quota(tmp_path: Path, folder: str, quota_us: str, period_us: str, quota: float | None) -> None:
    write(tmp_path, f"{folder}/cpu.cfs_quota_us", quota_us + "\n")
    write(tmp_path, f"{folder}/cpu.cfs_period_us", period_us + "\n")
    assert cgroup_cpu_quota(tmp_path) == quota


def test_no_cgroup_files_mean_no_quota(tmp_path: Path) -> None:
    assert cgroup_cpu_quota(tmp_path) is None
    assert available_cpus(tmp_path) == (os.cpu_count() or 1)


def test_workers_follow_the_quota_rounded_up_never_above_the_cpus(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    write(tmp_path, "cpu.max", "150000 100000\n")
    assert available_cpus(tmp_path) == 2  # 1.5 CPUs: 2 workers, not 64
    write(tmp_path, "cpu.max", "10000 100000\n")
    assert available_cpus(tmp_path) == 1  # a tenth of a CPU: still one worker
    write(tmp_path, "cpu.max", "12800000 100000\n")
    assert available_cpus(tmp_path) == 64  # a quota above the machine: the machine's CPUs
    write(tmp_path, "cpu.max", "max 100000\n")
    assert available_cpus(tmp_path) == 64
