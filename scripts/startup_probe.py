"""Start-up probe for scripts/release-check.sh: milliseconds from spawning `BINARY serve` to the
first 200 from /health/ready, then SIGTERM, which must exit 0. Prints the milliseconds.

    python3 scripts/startup_probe.py BINARY HOST:PORT

Standard library only, so it runs on any python3 without a venv.
"""

import subprocess
import sys
import time
import urllib.request

READY_WITHIN_S = 20


def main() -> None:
    binary, addr = sys.argv[1], sys.argv[2]
    start = time.monotonic()
    proc = subprocess.Popen([binary, "serve"], stdout=subprocess.DEVNULL)
    while True:
        try:
            if urllib.request.urlopen(f"http://{addr}/health/ready", timeout=1).status == 200:
                break
        except Exception:  # not listening yet, or not ready: poll again
            pass
        if time.monotonic() - start > READY_WITHIN_S:
            proc.kill()
            sys.exit(f"not ready within {READY_WITHIN_S} s")
        time.sleep(0.002)
    elapsed = (time.monotonic() - start) * 1000
    proc.terminate()
    code = proc.wait()
    if code != 0:
        sys.exit(f"serve exited {code} on SIGTERM")
    print(f"{elapsed:.1f}")


if __name__ == "__main__":
    main()
