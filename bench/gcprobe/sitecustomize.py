"""Loaded by the proxy ``bench/run.py`` starts (``PYTHONPATH=bench/gcprobe``): logs every
garbage collection (generation, wall-clock start, duration) to ``$BENCH_GC_LOG``.

A callback per collection costs about a microsecond; the log is written from a daemon
thread every half second, so the request path never touches the file.
"""

import gc
import os
import threading
import time

_path = os.environ.get("BENCH_GC_LOG")
if _path:
    _pending: list[tuple[int, float, float]] = []
    _start = [0.0, 0.0]

    def _callback(phase: str, info: dict) -> None:
        if phase == "start":
            _start[0], _start[1] = time.time(), time.perf_counter()
        else:
            _pending.append((info["generation"], _start[0], time.perf_counter() - _start[1]))

    def _flush() -> None:
        pid = os.getpid()
        while True:
            time.sleep(0.5)
            batch = _pending[:]
            del _pending[: len(batch)]
            if batch:
                with open(_path, "a") as f:
                    f.writelines(f"{pid} {g} {t:.6f} {d * 1000:.3f}\n" for g, t, d in batch)

    gc.callbacks.append(_callback)
    threading.Thread(target=_flush, name="bench-gc-log", daemon=True).start()
