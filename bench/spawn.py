"""Run one command and report its peak memory: `python -S bench/spawn.py RESULT.json ARGV...`.

Linux carries a process's max-RSS across exec, and a child made by fork/vfork starts from its
parent's: a collector spawned straight from the benchmark process would report the benchmark's
own (large) memory as its `ru_maxrss`. This launcher is a bare interpreter (`-S`, stdlib only,
a few MiB), so the child it forks and `os.wait4`s reports its own peak. The result (exit code,
ru_maxrss in KiB, wall and CPU seconds) goes to RESULT.json; stdout/stderr pass straight through.
"""

import json
import os
import sys
import time


def main() -> None:
    result_path, argv = sys.argv[1], sys.argv[2:]
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        try:
            os.execv(argv[0], argv)  # noqa: S606 - the argv the benchmark built
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    seconds = time.monotonic() - started
    with open(result_path, "w", encoding="utf-8") as out:
        json.dump(
            {
                "returncode": os.waitstatus_to_exitcode(status),
                "max_rss_kib": usage.ru_maxrss,
                "seconds": seconds,
                "cpu_seconds": usage.ru_utime + usage.ru_stime,
            },
            out,
        )


if __name__ == "__main__":
    main()
