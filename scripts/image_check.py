#!/usr/bin/env python3
"""The parsing and the assertions of scripts/image-check.sh, which keeps only the docker and apt calls.

Each subcommand reads what docker, /proc or curl gave the script, prints one summary line when every
rule holds, and otherwise exits 1 with one line per broken rule:

  debian-mirror FILE...   print the first URI apt uses for bookworm (one-line .list or deb822
                          .sources files); nothing when there is none
  base-passwd             stdin is the base image's /etc/passwd: it has distroless' nonroot user
  inspect                 stdin is `docker image inspect IMAGE`: user 65532:65532, entrypoint
                          /bookstore, command serve, port 8080 only, HEALTHCHECK /bookstore healthcheck
  process PID [--proc DIR]  the running server, as the kernel sees it: uid and gid 65532, and the
                          root filesystem mounted read-only
  book                    stdin is a GET of the Rainmaker: the tutorial's book (category Suspense)
  stopped CODE MS         `docker stop` (SIGTERM) ended the server with exit code 0 within the drain

Standard library only: it runs on the python3 that runs the script, without a venv.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

SUITE = "bookworm"
# distroless' nonroot user, which the image's USER 65532:65532 must name.
NONROOT_PASSWD = "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin"
USER = "65532:65532"
ENTRYPOINT = ["/bookstore"]
CMD = ["serve"]
EXPOSED_PORTS = {"8080/tcp": {}}
HEALTHCHECK_TEST = ["CMD", "/bookstore", "healthcheck"]
# The service drains for up to 20 s on SIGTERM; a stop may take that plus a second of docker's work.
DRAIN_MS = 21_000
RAINMAKER = {"author": "John Grisham", "title": "The Rainmaker", "category": "Suspense"}


def _json(value: Any) -> str:
    """Compact JSON, as `docker inspect -f '{{json ...}}'` prints it."""
    return json.dumps(value, separators=(",", ":"))


class CheckFailed(Exception):
    """One or more rules do not hold; the message has one line per broken rule."""


def _fail_if(problems: list[str]) -> None:
    if problems:
        raise CheckFailed("\n".join(problems))


def debian_mirror(sources: list[str]) -> str | None:
    """The first URI of a `bookworm` entry, in file order: `deb [opts] URI SUITE ...` lines of .list
    files, or deb822 paragraphs (`URIs:` and `Suites:`) of .sources files."""
    for text in sources:
        for paragraph in re.split(r"\n[ \t]*\n", text):
            uris: list[str] = []
            suites: list[str] = []
            for raw in paragraph.splitlines():
                line = raw.strip()
                if line.startswith("URIs:"):
                    uris = line.removeprefix("URIs:").split()
                elif line.startswith("Suites:"):
                    suites = line.removeprefix("Suites:").split()
                elif line.split()[:1] == ["deb"]:
                    found = _one_line_entry(line)
                    if found:
                        return found
            if uris and SUITE in suites:
                return uris[0]
    return None


def _one_line_entry(line: str) -> str | None:
    """The URI of a one-line `deb [options] URI SUITE COMPONENTS` entry for bookworm."""
    words = line.split()[1:]
    if words and words[0].startswith("["):
        while words and not words[0].endswith("]"):
            words.pop(0)
        words = words[1:]
    if len(words) >= 2 and words[1] == SUITE:
        return words[0]
    return None


def base_passwd(passwd: str) -> str:
    """The base image's /etc/passwd has distroless' nonroot user (uid 65532, home /home/nonroot)."""
    if NONROOT_PASSWD not in passwd.splitlines():
        raise CheckFailed(
            f"the base has no nonroot user 65532 with home /home/nonroot ({NONROOT_PASSWD!r} "
            "is not a line of its /etc/passwd; remove the base image to have it made again)"
        )
    return "nonroot is uid 65532, home /home/nonroot"


def inspect(document: Any) -> str:
    """The image's configuration (`docker image inspect`, one image) is what the Dockerfile promises."""
    if not isinstance(document, list) or len(document) != 1:
        raise CheckFailed("expected the `docker image inspect` output of exactly one image")
    config = document[0].get("Config") or {}
    user, entrypoint, cmd = config.get("User"), config.get("Entrypoint"), config.get("Cmd")
    ports, healthcheck = config.get("ExposedPorts"), config.get("Healthcheck") or {}
    problems = []
    if user != USER:
        problems.append(f"image user is {user!r}, not {USER}")
    if entrypoint != ENTRYPOINT:
        problems.append(f"entrypoint is {_json(entrypoint)}, not {_json(ENTRYPOINT)}")
    if cmd != CMD:
        problems.append(f"default command is {_json(cmd)}, not {_json(CMD)}")
    if ports != EXPOSED_PORTS:
        problems.append(f"exposed ports are {_json(ports)}, not {_json(EXPOSED_PORTS)}")
    if healthcheck.get("Test") != HEALTHCHECK_TEST:
        problems.append(f"no HEALTHCHECK running /bookstore healthcheck: {_json(healthcheck)}")
    _fail_if(problems)
    return (
        f"inspect: User {user}, Entrypoint {_json(entrypoint)}, Cmd {_json(cmd)}, "
        f"ExposedPorts {_json(ports)}\ninspect: Healthcheck {_json(healthcheck)}"
    )


def process(status: str, mounts: str) -> str:
    """/proc/PID/status and /proc/PID/mounts of the server: it runs as 65532:65532 (real ids) on a
    read-only root filesystem (the last mount on `/` is the one the process sees)."""
    ids = {}
    for line in status.splitlines():
        key, _, value = line.partition(":")
        if key in ("Uid", "Gid"):
            ids[key] = value.split()[0]
    root_options = None
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[1] == "/":
            root_options = fields[3]
    problems = []
    uid_gid = f"{ids.get('Uid')}:{ids.get('Gid')}"
    if uid_gid != USER:
        problems.append(f"serve runs as uid:gid {uid_gid}, not {USER}")
    if root_options is None:
        problems.append("no mount on / in the server's mount table")
    elif root_options.split(",")[0] != "ro":
        problems.append(f"the root filesystem is mounted {root_options}, not read-only")
    _fail_if(problems)
    assert root_options is not None
    return f"runs as uid:gid {uid_gid}; root filesystem mounted {root_options.split(',')[0]}"


def book(body: str) -> str:
    """A GET of /books/John%20Grisham/The%20Rainmaker answered the tutorial's book."""
    try:
        parsed = json.loads(body)
    except ValueError:
        raise CheckFailed(f"the answer is not JSON: {body!r}") from None
    if not isinstance(parsed, dict) or any(parsed.get(k) != v for k, v in RAINMAKER.items()):
        raise CheckFailed(f"the answer is not the tutorial's Rainmaker ({RAINMAKER}): {body}")
    return body.strip()


def stopped(exit_code: int, elapsed_ms: int) -> str:
    """`docker stop` (SIGTERM, then SIGKILL after its timeout) ended the server cleanly within the drain."""
    problems = []
    if exit_code != 0:
        problems.append(f"serve exited {exit_code} after docker stop (SIGTERM), not 0")
    if elapsed_ms > DRAIN_MS:
        problems.append(f"serve took {elapsed_ms} ms to stop, more than the 20 s drain")
    _fail_if(problems)
    return f"docker stop (SIGTERM): exit code {exit_code} after {elapsed_ms} ms"


def main(argv: list[str]) -> int:
    usage = __doc__ or ""
    if not argv:
        print(usage, file=sys.stderr)
        return 2
    command, args = argv[0], argv[1:]
    try:
        if command == "debian-mirror":
            texts = [Path(a).read_text() for a in args if Path(a).is_file()]
            out = debian_mirror(texts) or ""
        elif command == "base-passwd":
            out = base_passwd(sys.stdin.read())
        elif command == "inspect":
            out = inspect(json.load(sys.stdin))
        elif command == "process":
            proc = Path(args[args.index("--proc") + 1]) if "--proc" in args else Path("/proc")
            pid_dir = proc / args[0]
            out = process((pid_dir / "status").read_text(), (pid_dir / "mounts").read_text())
        elif command == "book":
            out = book(sys.stdin.read())
        elif command == "stopped":
            out = stopped(int(args[0]), int(args[1]))
        else:
            print(f"unknown subcommand {command!r}\n{usage}", file=sys.stderr)
            return 2
    except CheckFailed as failed:
        print(failed, file=sys.stderr)
        return 1
    if out:
        print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
