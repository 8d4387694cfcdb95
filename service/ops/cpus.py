"""How many CPUs this process may use: the container's CPU quota (cgroup) when one is set, else the CPU count.

A container limited to 2 CPUs on a 64-core host sees 64 in os.cpu_count(); one worker per CPU there would open
32 times the database connections the quota can keep busy.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None


def _quota(quota: str, period: str) -> float | None:
    """quota/period in CPUs; None for no limit ("max" in v2, -1 in v1) or anything unreadable."""
    try:
        quota_us, period_us = int(quota), int(period)
    except ValueError:
        return None
    return quota_us / period_us if quota_us > 0 and period_us > 0 else None


def cgroup_cpu_quota(root: Path = CGROUP_ROOT) -> float | None:
    """The CPU quota in CPUs (may be fractional), from cgroup v2 `cpu.max` ("200000 100000" or "max 100000")
    or cgroup v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`; None when no quota is set or none can be read."""
    v2 = _read(root / "cpu.max")
    if v2 is not None:
        parts = v2.split()
        return _quota(*parts) if len(parts) == 2 else None
    for folder in (root / "cpu", root / "cpu,cpuacct", root / "cpuacct,cpu"):
        quota, period = _read(folder / "cpu.cfs_quota_us"), _read(folder / "cpu.cfs_period_us")
        if quota is not None and period is not None:
            return _quota(quota, period)
    return None


def available_cpus(root: Path = CGROUP_ROOT) -> int:
    """The quota rounded up (1.5 CPUs: 2 workers), never more than the CPUs there are, at least 1."""
    count = os.cpu_count() or 1
    quota = cgroup_cpu_quota(root)
    return count if quota is None else max(1, min(count, math.ceil(quota)))
