"""Self-test of scripts/image_check.py, the judge of scripts/image-check.sh: each rule must reject
what it exists to catch and accept what a correct image gives. Run: python -m pytest
scripts/test_image_check.py (scripts/lint-deploy.sh does)."""

from __future__ import annotations

import copy
import importlib.util
import io
import json
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent

_spec = importlib.util.spec_from_file_location("image_check", HERE / "image_check.py")
judge = importlib.util.module_from_spec(_spec)
assert _spec.loader is not None
sys.modules[_spec.name] = judge
_spec.loader.exec_module(judge)

# `docker image inspect` of the image the Dockerfile builds (the fields the check reads).
GOOD_IMAGE = [
    {
        "Id": "sha256:0123",
        "Config": {
            "User": "65532:65532",
            "ExposedPorts": {"8080/tcp": {}},
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Cmd": ["serve"],
            "Healthcheck": {
                "Test": ["CMD", "/bookstore", "healthcheck"],
                "Interval": 10000000000,
                "Timeout": 3000000000,
                "Retries": 3,
            },
            "Entrypoint": ["/bookstore"],
        },
    }
]

GOOD_STATUS = """Name:\tbookstore
State:\tS (sleeping)
Tgid:\t4242
Uid:\t65532\t65532\t65532\t65532
Gid:\t65532\t65532\t65532\t65532
Groups:\t
"""
GOOD_MOUNTS = """overlay / overlay ro,relatime,lowerdir=/a,upperdir=/b,workdir=/c 0 0
proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0
tmpfs /dev tmpfs rw,nosuid,size=65536k,mode=755 0 0
"""
RAINMAKER = json.dumps(
    {
        "author": "John Grisham",
        "title": "The Rainmaker",
        "category": "Suspense",
        "formats": {"Hardcover": "J4SUKVGU", "Paperback": "D7YF4FCX"},
    }
)


def with_config(**changes: object) -> list[dict]:
    image = copy.deepcopy(GOOD_IMAGE)
    image[0]["Config"].update(changes)
    return image


# --- debian-mirror ----------------------------------------------------------------------------


def test_mirror_from_a_deb822_sources_file() -> None:
    sources = """Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
"""
    assert judge.debian_mirror([sources]) == "http://deb.debian.org/debian"


def test_mirror_skips_a_paragraph_for_another_suite() -> None:
    sources = """Types: deb
URIs: http://security.example/debian-security
Suites: bookworm-security

Types: deb
URIs: http://mirror.example/debian
Suites: bookworm
"""
    assert judge.debian_mirror([sources]) == "http://mirror.example/debian"


def test_mirror_from_a_one_line_list_with_options() -> None:
    sources = """# deb http://commented.example/debian bookworm main
deb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian bookworm main
deb http://other.example/debian bookworm main
"""
    assert judge.debian_mirror([sources]) == "http://mirror.example/debian"


def test_mirror_is_none_without_a_bookworm_entry() -> None:
    assert judge.debian_mirror(["deb http://deb.debian.org/debian trixie main\n"]) is None
    assert judge.debian_mirror(["Types: deb\nURIs: http://x/debian\nSuites: trixie\n"]) is None
    assert judge.debian_mirror([]) is None


def test_mirror_takes_the_first_file_in_order() -> None:
    first = "deb http://first.example/debian bookworm main\n"
    second = "Types: deb\nURIs: http://second.example/debian\nSuites: bookworm\n"
    assert judge.debian_mirror([first, second]) == "http://first.example/debian"
    assert judge.debian_mirror([second, first]) == "http://second.example/debian"


# --- base-passwd ------------------------------------------------------------------------------


def test_base_passwd_with_distroless_nonroot_passes() -> None:
    passwd = (
        "root:x:0:0:root:/root:/sbin/nologin\n"
        "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
    )
    assert "65532" in judge.base_passwd(passwd)


@pytest.mark.parametrize(
    "line",
    [
        "nonroot:x:1000:1000:nonroot:/home/nonroot:/sbin/nologin",  # another uid
        "nonroot:x:65532:65532:nonroot:/:/sbin/nologin",  # another home
        "#nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin",  # only part of a line
    ],
)
def test_base_passwd_without_that_exact_user_fails(line: str) -> None:
    with pytest.raises(judge.CheckFailed, match="nonroot user 65532"):
        judge.base_passwd("root:x:0:0:root:/root:/sbin/nologin\n" + line + "\n")


# --- inspect ----------------------------------------------------------------------------------


def test_inspect_of_the_real_configuration_passes() -> None:
    summary = judge.inspect(GOOD_IMAGE)
    assert 'Entrypoint ["/bookstore"]' in summary and "User 65532:65532" in summary


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"User": ""}, "image user is ''"),
        ({"User": "65532"}, "image user is '65532'"),
        ({"User": "0:0"}, "image user"),
        ({"Entrypoint": ["/bin/sh", "-c"]}, "entrypoint is"),
        ({"Entrypoint": None}, "entrypoint is null"),
        ({"Cmd": ["migrate"]}, "default command is"),
        ({"ExposedPorts": {"8080/tcp": {}, "9090/tcp": {}}}, "exposed ports are"),
        ({"ExposedPorts": None}, "exposed ports are null"),
        ({"Healthcheck": None}, "no HEALTHCHECK"),
        ({"Healthcheck": {"Test": ["NONE"]}}, "no HEALTHCHECK"),
        ({"Healthcheck": {"Test": ["CMD-SHELL", "/bookstore healthcheck"]}}, "no HEALTHCHECK"),
    ],
)
def test_inspect_rejects_each_wrong_setting(changes: dict, reason: str) -> None:
    with pytest.raises(judge.CheckFailed, match=reason.replace("[", r"\[")):
        judge.inspect(with_config(**changes))


def test_inspect_reports_every_broken_rule_at_once() -> None:
    with pytest.raises(judge.CheckFailed) as failed:
        judge.inspect(with_config(User="root", Cmd=["sh"]))
    assert len(str(failed.value).splitlines()) == 2


def test_inspect_needs_exactly_one_image() -> None:
    with pytest.raises(judge.CheckFailed, match="exactly one image"):
        judge.inspect(GOOD_IMAGE * 2)
    with pytest.raises(judge.CheckFailed, match="exactly one image"):
        judge.inspect({})


# --- process ----------------------------------------------------------------------------------


def test_process_as_nonroot_on_a_read_only_root_passes() -> None:
    assert judge.process(GOOD_STATUS, GOOD_MOUNTS) == (
        "runs as uid:gid 65532:65532; root filesystem mounted ro"
    )


def test_process_as_root_fails() -> None:
    status = GOOD_STATUS.replace("Uid:\t65532", "Uid:\t0").replace("Gid:\t65532", "Gid:\t0")
    with pytest.raises(judge.CheckFailed, match="uid:gid 0:0"):
        judge.process(status, GOOD_MOUNTS)


def test_process_reads_the_real_ids_not_the_effective_ones() -> None:
    status = GOOD_STATUS.replace("Uid:\t65532\t65532", "Uid:\t0\t65532")
    with pytest.raises(judge.CheckFailed, match="uid:gid 0:65532"):
        judge.process(status, GOOD_MOUNTS)


def test_process_on_a_writable_root_fails() -> None:
    with pytest.raises(judge.CheckFailed, match="mounted rw,relatime"):
        judge.process(GOOD_STATUS, GOOD_MOUNTS.replace(" ro,relatime", " rw,relatime"))


def test_process_sees_the_last_mount_on_root() -> None:
    # A writable mount stacked over the read-only one is what the process sees.
    mounts = GOOD_MOUNTS + "tmpfs / tmpfs rw,relatime 0 0\n"
    with pytest.raises(judge.CheckFailed, match="not read-only"):
        judge.process(GOOD_STATUS, mounts)
    # "ro" must be the whole first option, not a prefix of another.
    with pytest.raises(judge.CheckFailed, match="not read-only"):
        judge.process(GOOD_STATUS, "overlay / overlay rootcontext=x,rw 0 0\n")


def test_process_without_a_root_mount_fails() -> None:
    with pytest.raises(judge.CheckFailed, match="no mount on /"):
        judge.process(GOOD_STATUS, "proc /proc proc rw 0 0\n")


def test_process_reads_proc_of_the_pid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "4242").mkdir()
    (tmp_path / "4242" / "status").write_text(GOOD_STATUS)
    (tmp_path / "4242" / "mounts").write_text(GOOD_MOUNTS)
    assert judge.main(["process", "4242", "--proc", str(tmp_path)]) == 0
    assert "65532:65532" in capsys.readouterr().out


# --- book -------------------------------------------------------------------------------------


def test_book_the_rainmaker_passes() -> None:
    assert judge.book(RAINMAKER + "\n") == RAINMAKER


@pytest.mark.parametrize(
    "body",
    [
        json.dumps({"author": "John Grisham", "title": "The Rainmaker", "category": "Drama"}),
        json.dumps({"author": "John Grisham", "title": "The Firm", "category": "Suspense"}),
        json.dumps({"title": "The Rainmaker", "category": "Suspense"}),
        json.dumps([{"author": "John Grisham", "title": "The Rainmaker", "category": "Suspense"}]),
        '{"type": "about:blank", "status": 503}',
        "<html>not json</html>",
    ],
)
def test_book_anything_else_fails(body: str) -> None:
    with pytest.raises(judge.CheckFailed):
        judge.book(body)


# --- stopped ----------------------------------------------------------------------------------


def test_stopped_cleanly_within_the_drain_passes() -> None:
    assert judge.stopped(0, 350) == "docker stop (SIGTERM): exit code 0 after 350 ms"
    assert judge.stopped(0, 21_000)


def test_stopped_with_an_error_or_a_kill_fails() -> None:
    with pytest.raises(judge.CheckFailed, match="exited 137"):
        judge.stopped(137, 25_100)
    with pytest.raises(judge.CheckFailed, match="exited 1 "):
        judge.stopped(1, 200)


def test_stopped_after_the_drain_fails() -> None:
    with pytest.raises(judge.CheckFailed, match="more than the 20 s drain"):
        judge.stopped(0, 21_001)


# --- the command line -------------------------------------------------------------------------


def test_main_exit_codes(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(GOOD_IMAGE)))
    assert judge.main(["inspect"]) == 0
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(with_config(User="root"))))
    assert judge.main(["inspect"]) == 1
    assert "image user is 'root'" in capsys.readouterr().err
    assert judge.main(["stopped", "0", "100"]) == 0
    assert judge.main(["no-such-check"]) == 2
    assert judge.main([]) == 2


def test_main_mirror_ignores_missing_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    listing = tmp_path / "sources.list"
    listing.write_text("deb http://mirror.example/debian bookworm main\n")
    assert judge.main(["debian-mirror", str(tmp_path / "missing.list"), str(listing)]) == 0
    assert capsys.readouterr().out == "http://mirror.example/debian\n"
