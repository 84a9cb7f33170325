import ctypes
import os
import sys

# A render's parallelism is one process per shot, beside FFmpeg's encoder threads. numpy's OpenBLAS
# threads would only compete with them: the few matrix products here are small, and OpenBLAS keeps its
# idle threads spinning for a while after each call (synthesizing a score cost twice its wall time in
# CPU). Set before numpy loads; a value already in the environment wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

# glibc's malloc tunables (mallopt(3)); environment variables of the same names set them too.
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
_MALLOC_TUNING = {
    _M_MMAP_THRESHOLD: ("MALLOC_MMAP_THRESHOLD_", 32 << 20),
    _M_TRIM_THRESHOLD: ("MALLOC_TRIM_THRESHOLD_", 128 << 20),
    _M_TOP_PAD: ("MALLOC_TOP_PAD_", 16 << 20),
}


def _reuse_freed_memory() -> None:
    """Frames, audio blocks and images are megabytes each, made and freed thousands of times a render.
    glibc maps each such block fresh from the kernel and unmaps it when freed (or trims it off the heap),
    so every one is page-faulted and zeroed again: about a quarter of a render's page faults, 0.2-0.4 s of
    system CPU. Kept on the heap instead (which grows 16 MB at a time), freed blocks are reused; a process
    keeps up to 128 MB it no longer uses. Linux with glibc only; any of these variables already in the
    environment leaves malloc as it is."""
    if sys.platform != "linux" or any(name in os.environ for name, _ in _MALLOC_TUNING.values()):
        return
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # another C library (musl)
        return
    for option, (_, value) in _MALLOC_TUNING.items():
        mallopt(option, value)


_reuse_freed_memory()
