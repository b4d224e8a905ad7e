"""Keep freed memory in the process, so large short-lived tensors do not page-fault.

Matching allocates and frees blocks of several MiB many times per pair
(structure channels, their spectra, warped copies). By default glibc serves
such blocks with freshly mapped pages and unmaps them on free, so the kernel
zero-fills every page again on the next pass: on the 2-core VM a quarter of
the dense matcher's time went to these page faults (``docs/design.md``).
:func:`keep_freed_memory` raises glibc's thresholds so that freed blocks stay
in the heap and are reused. The command line, the workers and the matching
benchmark call it once at start; a library user may too. Settings the user
made through glibc's own environment variables (``MALLOC_MMAP_THRESHOLD_``,
``MALLOC_TRIM_THRESHOLD_``) are left as they are, and other C libraries are
left alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform

__all__ = ('MMAP_THRESHOLD', 'TRIM_THRESHOLD', 'keep_freed_memory')

#: mallopt's parameter numbers (glibc's malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: blocks up to this size come from the heap, not from fresh mappings
MMAP_THRESHOLD = 256 * 1024 * 1024
#: free memory at the heap's top kept up to this size instead of returned
TRIM_THRESHOLD = 1024 * 1024 * 1024
#: glibc's environment variables for the same settings: the user's choice wins
_USER_SETTINGS = ('MALLOC_MMAP_THRESHOLD_', 'MALLOC_TRIM_THRESHOLD_')


def keep_freed_memory() -> bool:
    """Let glibc keep freed blocks up to :data:`MMAP_THRESHOLD` for reuse.

    The process then holds on to up to :data:`TRIM_THRESHOLD` of freed memory
    (a worker's peak working set is reused on its next job anyway). Calling it
    again changes nothing.

    Returns:
        Whether the thresholds were set: ``False`` outside glibc, or when the
        user set either threshold through the environment.
    """
    if platform.system() != 'Linux' or platform.libc_ver()[0] != 'glibc':
        return False
    if any(name in os.environ for name in _USER_SETTINGS):
        return False
    libc = ctypes.CDLL(ctypes.util.find_library('c'))
    return bool(
        libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
        and libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
