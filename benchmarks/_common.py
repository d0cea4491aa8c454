"""Helpers the benchmark scripts share: machine and version facts, peak RSS, docs sections.

Stdlib and psutil only, so a parent process that launches measured children stays small.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
import resource
import sys
from importlib import metadata
from pathlib import Path

from kedro_gpt.training.meter import cpu_model

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "benchmarks.md"
PACKAGES = ("torch", "sentencepiece", "pyarrow", "kedro", "datasketch")
_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_info(packages: tuple[str, ...] = PACKAGES) -> dict[str, object]:
    """CPU model, cores, RAM, OS, Python and package versions, the date and the load average."""
    import psutil

    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "packages": {name: package_version(name) for name in packages},
        "date": dt.date.today().isoformat(),
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }


def machine_line(info: dict[str, object]) -> str:
    """``machine_info`` as one Markdown line."""
    versions = ", ".join(f"{k} {v}" for k, v in info["packages"].items())  # type: ignore[union-attr]
    return (
        f"{info['cpu']}, {info['cores']} cores, {info['ram_gib']} GiB RAM, {info['os']}; "
        f"Python {info['python']}, {versions}; {info['date']}"
    )


def _status_kib(field: str) -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def rss_bytes() -> int:
    """This process's resident set size now."""
    kib = _status_kib("VmRSS")
    if kib is not None:
        return kib * 1024
    import psutil

    return psutil.Process().memory_info().rss


def peak_rss_bytes() -> int:
    """This process's peak resident set size (all threads).

    Linux: ``VmHWM``, the high-water mark of this process image only. ``ru_maxrss`` is the
    fallback; on Linux it may also carry the RSS of the parent that forked this process.
    """
    kib = _status_kib("VmHWM")
    if kib is not None:
        return kib * 1024
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB elsewhere
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def reset_peak_rss() -> bool:
    """Reset the peak RSS to the current RSS (Linux ``clear_refs``); False where unsupported."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def write_section(text: str, heading: str, path: Path = DOCS) -> None:
    """Replace the section that starts with ``heading`` in ``path``, or append it; the others stay."""
    old = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    body = text.rstrip("\n") + "\n"
    if pattern.search(old):
        new = pattern.sub(lambda _: body + "\n", old).rstrip("\n") + "\n"
    else:
        new = old.rstrip("\n") + "\n\n" + body
    path.write_text(new, encoding="utf-8")
