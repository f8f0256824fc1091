"""Machine, BLAS and memory facts for the benchmark header and table.

The BLAS library is queried through threadpoolctl when it is installed. Otherwise the
OpenBLAS library that NumPy loaded is found in ``/proc/self/maps`` and asked for its
kernel name, build configuration and thread count through ``ctypes``.
"""

import ctypes
import os
import platform
from pathlib import Path

BLAS_ENVIRONMENT = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
"""Variables that force an OpenBLAS kernel or cache size, which slows a current NumPy."""

THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
"""Variables that BLAS libraries read for their thread count when they load."""

# Symbol names of the OpenBLAS builds that NumPy wheels ship (scipy-openblas, with a
# 64-bit integer interface) and of a plain system OpenBLAS.
_OPENBLAS_PREFIXES = (
    ("scipy_openblas_", "64_"),
    ("openblas_", "64_"),
    ("openblas_", ""),
)


def cpu_model() -> str:
    """Return the ``model name`` field of ``/proc/cpuinfo``, or the platform name."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _loaded_openblas_path() -> str | None:
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return None
    for line in maps.splitlines():
        path = line.split()[-1]
        if "openblas" in Path(path).name.lower() and ".so" in path:
            return path
    return None


def _openblas_function(library: ctypes.CDLL, name: str):
    for prefix, suffix in _OPENBLAS_PREFIXES:
        function = getattr(library, f"{prefix}{name}{suffix}", None)
        if function is not None:
            return function
    return None


def blas_description() -> dict[str, str]:
    """Describe the BLAS library that NumPy uses, after NumPy has been imported.

    Returns:
        ``library``, ``version``, ``kernel`` (the OpenBLAS core type in use) and
        ``threads``, each ``"unknown"`` when it cannot be queried.
    """
    try:
        from threadpoolctl import threadpool_info  # noqa: PLC0415
    except ImportError:
        threadpool_info = None

    if threadpool_info is not None:
        for entry in threadpool_info():
            if entry.get("user_api") == "blas":
                return {
                    "library": f"{entry.get('internal_api')} {entry.get('filepath')}",
                    "version": str(entry.get("version")),
                    "kernel": str(entry.get("architecture")),
                    "threads": str(entry.get("num_threads")),
                    "source": "threadpoolctl",
                }

    description = {
        "library": "unknown",
        "version": "unknown",
        "kernel": "unknown",
        "threads": "unknown",
        "source": "ctypes on the OpenBLAS library in /proc/self/maps",
    }
    path = _loaded_openblas_path()
    if path is None:
        return description
    library = ctypes.CDLL(path)
    description["library"] = path
    corename = _openblas_function(library, "get_corename")
    config = _openblas_function(library, "get_config")
    threads = _openblas_function(library, "get_num_threads")
    if corename is not None:
        corename.restype = ctypes.c_char_p
        description["kernel"] = corename().decode()
    if config is not None:
        config.restype = ctypes.c_char_p
        description["version"] = config().decode()
    if threads is not None:
        threads.restype = ctypes.c_int
        description["threads"] = str(threads())
    return description


def limit_blas_threads(threads: int) -> str:
    """Set the BLAS thread count with threadpoolctl when it is installed.

    Returns:
        How the count was set: ``threadpoolctl``, or ``environment`` when only the
        variables in ``THREAD_VARIABLES``, set before NumPy was imported, apply.
    """
    try:
        from threadpoolctl import threadpool_limits  # noqa: PLC0415
    except ImportError:
        return "environment"
    threadpool_limits(limits=threads, user_api="blas")
    return "threadpoolctl"


def resident_memory_bytes() -> int | None:
    """Return the current resident set size (``VmRSS``), or None off Linux."""
    return _status_field("VmRSS:")


def peak_resident_memory_bytes() -> int | None:
    """Return the peak resident set size (``VmHWM``) since the last reset."""
    return _status_field("VmHWM:")


def reset_peak_resident_memory() -> bool:
    """Reset ``VmHWM`` to the current RSS by writing 5 to ``/proc/self/clear_refs``.

    Returns:
        False when the kernel does not allow it, so peaks cover the whole run.
    """
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _status_field(name: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(name):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def machine_description() -> dict[str, str]:
    """Describe the CPU, kernel, Python and the environment variables that matter."""
    forced = {name: os.environ[name] for name in BLAS_ENVIRONMENT if name in os.environ}
    return {
        "cpu": cpu_model(),
        "logical_cpus": str(os.cpu_count()),
        "kernel": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "forced_blas_environment": ", ".join(f"{k}={v}" for k, v in forced.items())
        or "none",
    }
