"""The shim end to end: a real zygote, real containers (busybox), the client API."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from dockyard.errors import Conflict, InvalidArgument
from dockyard.runtime.state import StateStore
from dockyard.shim import ShimClient, read_exit, shim_alive
from tests.conftest import require_root
from tests.integration.shim.support import harness, log_lines, read_frames

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(autouse=True)
def _root():
    require_root()


def run(coro):
    return asyncio.run(coro)


def test_output_reaches_json_log_and_exit_code(tmp_path, busybox_rootfs, container_id):
    async def scenario():
        async with harness(tmp_path, busybox_rootfs, container_id) as h:
            req, shim, pid = await h.start(["sh", "-c", "echo out; echo err >&2; exit 3"])
            assert pid > 0
            status = await asyncio.wait_for(shim.wait(), 30)
            assert status.exit_code == 3
            assert status.error == ""
            assert read_exit(req.bundle) == status
            lines = log_lines(req.log.path)
            assert [(x["stream"], x["log"]) for x in lines] == [
                ("stdout", "out\n"), ("stderr", "err\n")] or \
                sorted((x["stream"], x["log"]) for x in lines) == [
                ("stderr", "err\n"), ("stdout", "out\n")]
            assert all(x["time"].endswith("Z") for x in lines)
            for _ in range(200):  # the shim removes its socket and exits right after
                if not shim_alive(req.bundle):
                    break
                await asyncio.sleep(0.01)
            assert not shim_alive(req.bundle)
            assert not os.path.exists(os.path.join(req.bundle, "shim.sock"))
    run(scenario())


def test_exit_codes_zero_and_sigkill(tmp_path, busybox_rootfs, container_id):
    async def scenario():
        async with harness(tmp_path, busybox_rootfs, container_id) as h:
            _, shim0, _ = await h.start(["true"])
            _, shim9, _ = await h.start(["sleep", "1000"])
            assert (await shim0.wait()).exit_code == 0
            await shim9.kill(signal.SIGKILL)
            status = await asyncio.wait_for(shim9.wait(), 30)
            assert status.exit_code == 137
            with pytest.raises(Conflict):
                await shim9.kill(signal.SIGTERM)
    run(scenario())


def test_attach_gets_live_output_as_frames(tmp_path, busybox_rootfs, container_id):
    async def scenario():
        async with harness(tmp_path, busybox_rootfs, container_id) as h:
            script = "read x; echo got-$x; echo oops >&2"
            _, shim, _ = await h.start(["sh", "-c", script], open_stdin=True,
                                       stdin_once=True)
            reader, writer = await shim.attach(stdin=True, stdout=True, stderr=True)
            writer.write(b"hi\n")
            await writer.drain()
            frames = await asyncio.wait_for(read_frames(reader), 30)
            writer.close()
            assert frames == {1: b"got-hi\n", 2: b"oops\n"}
            assert (await shim.wait()).exit_code == 0
    run(scenario())


def test_stdin_piping_cat_and_stdin_once(tmp_path, busybox_rootfs, container_id):
    async def scenario():
        async with harness(tmp_path, busybox_rootfs, container_id) as h:
            req, shim, _ = await h.start(["cat"], open_stdin=True, stdin_once=True)
            reader, writer = await shim.attach(stdin=True, stdout=True, stderr=True)
            payload = b"".join(b"line %d\n" % i for i in range(20000))
            writer.write(payload)
            await writer.drain()
            writer.write_eof()  # stdin_once: the container's stdin closes, cat ends
            frames = await asyncio.wait_for(read_frames(reader), 60)
            writer.close()
            assert frames.get(1, b"") == payload
            assert (await shim.wait()).exit_code == 0
            logged = "".join(x["log"] for x in log_lines(req.log.path))
            assert logged.encode() == payload
    run(scenario())


def test_tty_mode(tmp_path, busybox_rootfs, container_id):
    async def scenario():
        async with harness(tmp_path, busybox_rootfs, container_id) as h:
            req, shim, _ = await h.start(["sh", "-c", "stty size; tty; read x; echo [$x]"],
                                         tty=True, open_stdin=True)
            reader, writer = await shim.attach(stdin=True, stdout=True, stderr=True)
            await shim.resize(33, 101)
            writer.write(b"typed\r")
            await writer.drain()
            out = await asyncio.wait_for(reader.read(), 30)
            writer.close()
            assert b"[typed]" in out
            assert (await shim.wait()).exit_code == 0
            logged = "".join(x["log"] for x in log_lines(req.log.path))
            assert "/dev/pts/0" in logged
            assert all(x["stream"] == "stdout" for x in log_lines(req.log.path))
    run(scenario())


def test_tty_mismatch_is_refused(tmp_path, busybox_rootfs, container_id):
    async def scenario():
        async with harness(tmp_path, busybox_rootfs, container_id) as h:
            req = h.request(["true"], tty=False,
                            spec_changes=lambda s: s["process"].update(terminal=True))
            with pytest.raises(InvalidArgument, match="terminal"):
                await h.zygote.start(req)
            assert not shim_alive(req.bundle)
    run(scenario())


def test_missing_program_is_invalid_argument_with_exit_127(tmp_path, busybox_rootfs,
                                                            container_id):
    async def scenario():
        async with harness(tmp_path, busybox_rootfs, container_id) as h:
            req = h.request(["/no/such/program"])
            with pytest.raises(InvalidArgument, match="no such file"):
                await h.zygote.start(req)
            status = read_exit(req.bundle)
            assert status is not None and status.exit_code == 127
            assert "no such file" in status.error
    run(scenario())


def test_pause_resume_kill(tmp_path, busybox_rootfs, container_id):
    async def scenario():
        async with harness(tmp_path, busybox_rootfs, container_id) as h:
            # pid 1 of a pid namespace ignores signals it has no handler for: trap it
            script = "trap 'exit 5' TERM; while true; do echo tick; sleep 0.05; done"
            req, shim, _ = await h.start(["sh", "-c", script])
            store = StateStore(req.runtime_root)
            await asyncio.sleep(0.2)
            await shim.pause()
            assert store.load(req.container_id).current_status() == "paused"
            await asyncio.sleep(0.1)
            ticks = len(log_lines(req.log.path))
            await asyncio.sleep(0.4)
            assert len(log_lines(req.log.path)) == ticks  # frozen: no output
            await shim.resume()
            assert store.load(req.container_id).current_status() == "running"
            for _ in range(200):
                if len(log_lines(req.log.path)) > ticks:
                    break
                await asyncio.sleep(0.01)
            assert len(log_lines(req.log.path)) > ticks
            await shim.kill(signal.SIGTERM, all=True)
            status = await asyncio.wait_for(shim.wait(), 30)
            assert status.exit_code == 5
    run(scenario())


def test_shim_survives_zygote_and_client_sigkill(tmp_path, busybox_rootfs, container_id):
    async def scenario():
        async with harness(tmp_path, busybox_rootfs, container_id) as h:
            req, _, _ = await h.start(["sh", "-c", "sleep 0.5; echo late; exit 7"])
            os.kill(h.zygote.pid, signal.SIGKILL)
            await h.zygote.proc.wait()
            assert shim_alive(req.bundle)
            status = await asyncio.wait_for(ShimClient(req.bundle).wait(), 30)
            assert status.exit_code == 7
            assert [x["log"] for x in log_lines(req.log.path)] == ["late\n"]
    run(scenario())


_CLIENT = textwrap.dedent("""
    import asyncio, json, sys
    from dockyard.shim import ShimClient, ShimRequest, Zygote

    async def main():
        req = ShimRequest.from_json(json.loads(sys.argv[2]))
        z = await Zygote.spawn(sys.argv[1])
        pid = await z.start(req)
        print(z.pid, pid, flush=True)
        await ShimClient(req.bundle).wait()  # killed while waiting

    asyncio.run(main())
""")


def test_shim_survives_sigkill_of_its_daemon(tmp_path, busybox_rootfs, container_id):
    """A "daemon" process holding the zygote and waiting on the shim is SIGKILLed:
    the zygote goes (EOF on its stdin), the shim and container live on, and a new
    client's wait gets the real exit code and the log has everything."""
    import json

    async def scenario():
        async with harness(tmp_path, busybox_rootfs, container_id) as h:
            req = h.request(["sh", "-c", "read x < /dev/null; sleep 1; echo done; exit 9"])
            client = subprocess.Popen(
                [sys.executable, "-c", _CLIENT, str(tmp_path / "exec2"),
                 json.dumps(req.to_json())], stdout=subprocess.PIPE, text=True)
            try:
                zygote_pid, init_pid = map(int, client.stdout.readline().split())
                await asyncio.sleep(0.1)  # let it block in wait
            finally:
                client.kill()
                client.wait()
                client.stdout.close()
            for _ in range(500):
                if _gone(zygote_pid):
                    break
                await asyncio.sleep(0.01)
            else:
                raise AssertionError("the zygote outlived its daemon")
            assert shim_alive(req.bundle)
            assert os.path.exists(f"/proc/{init_pid}")
            status = await asyncio.wait_for(ShimClient(req.bundle).wait(), 30)
            assert status.exit_code == 9
            assert [x["log"] for x in log_lines(req.log.path)] == ["done\n"]
    run(scenario())


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def test_log_rotation_through_the_shim(tmp_path, busybox_rootfs, container_id):
    async def scenario():
        async with harness(tmp_path, busybox_rootfs, container_id) as h:
            script = "i=0; while [ $i -lt 300 ]; do echo line-$i; i=$((i+1)); done"
            req, shim, _ = await h.start(["sh", "-c", script],
                                         log={"max_size": 2000, "max_file": 3})
            assert (await shim.wait()).exit_code == 0
            path = req.log.path
            assert os.path.exists(f"{path}.1") and os.path.exists(f"{path}.2")
            assert not os.path.exists(f"{path}.3")
            for name in (path, f"{path}.1"):
                assert os.path.getsize(name) < 2000 + 200
            got = [x["log"] for x in log_lines(path)]
            assert got == [f"line-{i}\n" for i in range(300 - len(got), 300)]
    run(scenario())


def test_twenty_containers_in_parallel(tmp_path, busybox_rootfs, container_id):
    async def scenario():
        async with harness(tmp_path, busybox_rootfs, container_id) as h:
            started = await asyncio.gather(*[
                h.start(["sh", "-c", f"echo n{i}; sleep 1000"]) for i in range(20)])
            pids = {pid for _, _, pid in started}
            assert len(pids) == 20
            for req, _, _ in started:
                assert shim_alive(req.bundle)
            # the program runs when start returns, but may not have printed yet
            for _ in range(1000):
                if all(os.path.getsize(req.log.path) for req, _, _ in started):
                    break
                await asyncio.sleep(0.01)
            await asyncio.gather(*[shim.kill(signal.SIGKILL) for _, shim, _ in started])
            statuses = await asyncio.wait_for(
                asyncio.gather(*[shim.wait() for _, shim, _ in started]), 60)
            assert [s.exit_code for s in statuses] == [137] * 20
            for i, (req, _, _) in enumerate(started):
                assert [x["log"] for x in log_lines(req.log.path)] == [f"n{i}\n"]
    run(scenario())


def test_oom_kill_is_recorded(tmp_path, busybox_rootfs, container_id):
    def limit(spec):
        spec["linux"].setdefault("resources", {})["memory"] = {"limit": 16 << 20,
                                                               "swap": 16 << 20}

    async def scenario():
        async with harness(tmp_path, busybox_rootfs, container_id) as h:
            # tail keeps the last "line" of an endless stream without newlines: all of it
            _, shim, _ = await h.start(["tail", "/dev/zero"], spec_changes=limit)
            status = await asyncio.wait_for(shim.wait(), 60)
            assert status.exit_code == 137
            assert status.oom_killed
    run(scenario())


def test_external_runc_runtime(tmp_path, busybox_rootfs, container_id):
    import shutil

    runc = shutil.which("runc")
    if runc is None:
        pytest.fail("runc is not installed (Debian package runc)")

    async def scenario():
        async with harness(tmp_path, busybox_rootfs, container_id) as h:
            req = h.request(["sh", "-c", "echo via-runc; exit 4"])
            req = type(req)(**{**req.__dict__, "runtime": runc,
                               "runtime_root": str(tmp_path / "runc-root")})
            pid = await h.zygote.start(req)
            assert pid > 0
            status = await asyncio.wait_for(ShimClient(req.bundle).wait(), 30)
            assert status.exit_code == 4
            assert [x["log"] for x in log_lines(req.log.path)] == ["via-runc\n"]
            assert not os.listdir(tmp_path / "runc-root")  # deleted after exit

            tty = h.request(["sh", "-c", "tty; read x; echo [$x]"], tty=True, open_stdin=True)
            tty = type(tty)(**{**tty.__dict__, "runtime": runc,
                               "runtime_root": str(tmp_path / "runc-root")})
            await h.zygote.start(tty)
            reader, writer = await ShimClient(tty.bundle).attach(True, True, True)
            await ShimClient(tty.bundle).resize(20, 60)
            writer.write(b"typed\r")
            await writer.drain()
            out = await asyncio.wait_for(reader.read(), 30)
            writer.close()
            assert b"[typed]" in out
            assert (await ShimClient(tty.bundle).wait()).exit_code == 0
            assert "/dev/pts/0" in "".join(x["log"] for x in log_lines(tty.log.path))

            bad = h.request(["/nope"])
            bad = type(bad)(**{**bad.__dict__, "runtime": runc,
                               "runtime_root": str(tmp_path / "runc-root")})
            with pytest.raises(Exception, match="nope"):
                await h.zygote.start(bad)
    run(scenario())


def test_hold_attach_then_start_misses_nothing(tmp_path, busybox_rootfs, container_id):
    """docker run's order: create, attach, start: the first output reaches the client."""
    async def scenario():
        async with harness(tmp_path, busybox_rootfs, container_id) as h:
            # (the sleep keeps it running for the second start's Conflict)
            req = h.request(["sh", "-c", "echo first; echo second >&2; sleep 0.5"])
            req = type(req)(**{**req.__dict__, "hold": True})
            pid = await h.zygote.start(req)
            shim = ShimClient(req.bundle)
            assert os.path.exists(f"/proc/{pid}")
            await asyncio.sleep(0.2)
            assert log_lines(req.log.path) == []  # not started yet
            reader, writer = await shim.attach(stdin=False, stdout=True, stderr=True)
            await shim.start()
            with pytest.raises(Conflict, match="already started"):
                await shim.start()
            frames = await asyncio.wait_for(read_frames(reader), 30)
            writer.close()
            assert frames == {1: b"first\n", 2: b"second\n"}
            assert (await shim.wait()).exit_code == 0

            req = h.request(["/no/such/program"])
            req = type(req)(**{**req.__dict__, "hold": True})
            await h.zygote.start(req)
            with pytest.raises(InvalidArgument, match="no such file"):
                await ShimClient(req.bundle).start()
            status = await asyncio.wait_for(ShimClient(req.bundle).wait(), 30)
            assert status.exit_code == 127 and "no such file" in status.error
    run(scenario())


def test_wait_after_shim_death_and_reconnect(tmp_path, busybox_rootfs, container_id):
    """wait() survives broken connections; a SIGKILLed shim without exit.json reads
    as exit 255 "shim died"; the process title names the container."""
    from dockyard.runtime.container.delete import delete
    from dockyard.runtime.state import StateStore
    from dockyard.shim.files import SHIM_PID, read_pid

    async def scenario():
        async with harness(tmp_path, busybox_rootfs, container_id) as h:
            req, shim, pid = await h.start(["sleep", "1000"])
            shim_pid = read_pid(os.path.join(req.bundle, SHIM_PID))
            with open(f"/proc/{shim_pid}/cmdline", "rb") as f:
                assert f.read().rstrip(b"\0") == b"dockyard-shim " + \
                    req.container_id[:12].encode()
            # several waiters, one of them gives up early: the others still get it
            early = asyncio.create_task(shim.wait())
            await asyncio.sleep(0.1)
            early.cancel()
            waiters = [asyncio.create_task(ShimClient(req.bundle).wait()) for _ in range(3)]
            await asyncio.sleep(0.1)
            state = await shim.state()
            assert (state["pid"], state["running"]) == (pid, True)
            os.kill(shim_pid, signal.SIGKILL)
            statuses = await asyncio.wait_for(asyncio.gather(*waiters), 30)
            assert {(s.exit_code, s.error) for s in statuses} == {(255, "shim died")}
            assert read_exit(req.bundle) is None
            assert os.path.exists(f"/proc/{pid}")  # the container outlived its shim
            delete(StateStore(req.runtime_root), req.container_id, force=True)
    run(scenario())


def test_bad_requests(tmp_path, busybox_rootfs, container_id):
    async def scenario():
        async with harness(tmp_path, busybox_rootfs, container_id) as h:
            req, shim, _ = await h.start(["sleep", "1000"])
            with pytest.raises(Conflict, match="already has a shim"):
                await h.zygote.start(req)
            assert (await shim.state())["running"]  # its files were left alone
            other = h.request(["true"])
            dup = type(other)(**{**other.__dict__, "container_id": req.container_id})
            with pytest.raises(Conflict, match="already exists"):
                await h.zygote.start(dup)
            gone = type(other)(**{**other.__dict__, "bundle": str(tmp_path / "nowhere")})
            with pytest.raises(InvalidArgument, match="not a directory"):
                await h.zygote.start(gone)
            bad_log = type(other)(**{**other.__dict__, "log": type(other.log)(driver="gelf")})
            with pytest.raises(InvalidArgument, match="unknown log driver"):
                await h.zygote.start(bad_log)
            await shim.kill(signal.SIGKILL)
            assert (await shim.wait()).exit_code == 137
    run(scenario())


def test_tty_stdin_once_keeps_stdin_when_a_client_detaches(tmp_path, busybox_rootfs,
                                                           container_id):
    """dockerd's rule: StdinOnce closes stdin at the client's EOF only without a TTY;
    with one, dropping the connection is how a client detaches (ctrl-p ctrl-q)."""
    async def scenario():
        async with harness(tmp_path, busybox_rootfs, container_id) as h:
            _, shim, _ = await h.start(["sh", "-c", "read x; echo [$x]"], tty=True,
                                       open_stdin=True, stdin_once=True)
            _, writer = await shim.attach(stdin=True, stdout=True, stderr=True)
            writer.close()  # detach
            await asyncio.sleep(0.3)
            assert (await shim.state())["running"]
            reader, writer = await shim.attach(stdin=True, stdout=True, stderr=True)
            writer.write(b"again\r")
            await writer.drain()
            out = await asyncio.wait_for(reader.read(), 30)
            writer.close()
            assert b"[again]" in out
            assert (await shim.wait()).exit_code == 0
    run(scenario())


def _spares(exec_root) -> list[int]:
    """Spare shims of the zygote serving ``exec_root`` (their command line is the
    zygote's until they take a request)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm") as f:
                comm = f.read().strip()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if comm == "dockyard-spare" and str(exec_root).encode() in cmd:
            out.append(int(entry))
    return out


def test_spare_shims_are_replaced_and_leave_with_the_zygote(tmp_path, busybox_rootfs,
                                                            container_id):
    async def scenario():
        async with harness(tmp_path, busybox_rootfs, container_id) as h:
            for _ in range(300):
                first = _spares(h.exec_root)
                if first:
                    break
                await asyncio.sleep(0.01)
            assert len(first) == 1
            # The zygote and its spare both accept on the socket and whoever is first
            # serves; on a loaded machine the zygote can win several times in a row.
            for _ in range(30):
                _, shim, _ = await h.start(["true"])
                assert (await shim.wait()).exit_code == 0
                for _ in range(100):
                    now = _spares(h.exec_root)
                    if len(now) == 1 and now != first:
                        break
                    await asyncio.sleep(0.01)
                if len(now) == 1 and now != first:
                    break
            assert len(now) == 1 and now != first
            await h.zygote.close()
            h.zygote = None
            for _ in range(300):
                if not _spares(h.exec_root):
                    break
                await asyncio.sleep(0.01)
            assert _spares(h.exec_root) == []
    run(scenario())


def test_the_shim_imports_nothing_while_it_serves(tmp_path, busybox_rootfs, container_id):
    """Everything the shim runs was imported by the zygote (no import after fork:
    an import would cost time and pages of its own)."""
    async def scenario():
        async with harness(tmp_path, busybox_rootfs, container_id) as h:
            script = "trap 'exit 0' TERM; while true; do echo x; echo y >&2; sleep 0.05; done"
            _, shim, _ = await h.start(["sh", "-c", script], open_stdin=True)
            before = (await shim.state())["modules"]
            reader, writer = await shim.attach(stdin=True, stdout=True, stderr=True)
            writer.write(b"in\n")
            await writer.drain()
            await reader.readexactly(8)
            await shim.resize(10, 10)
            await shim.pause()
            await shim.resume()
            await shim.kill(signal.SIGWINCH)
            await shim.close_stdin()
            assert (await shim.state())["modules"] == before
            writer.close()
            await shim.kill(signal.SIGTERM)
            assert (await asyncio.wait_for(shim.wait(), 30)).exit_code == 0
    run(scenario())


def test_local_driver_and_reading_back(tmp_path, busybox_rootfs, container_id):
    from dockyard.logdriver import read_logs

    async def scenario():
        async with harness(tmp_path, busybox_rootfs, container_id) as h:
            path = str(tmp_path / "data" / "local-logs" / "container.log")
            _, shim, _ = await h.start(["sh", "-c", "echo a; echo b >&2; printf c"],
                                       log={"driver": "local", "path": path})
            assert (await shim.wait()).exit_code == 0
            got = [(e.stream, e.data) async for e in read_logs(path, "local")]
            assert sorted(got) == [("stderr", b"b\n"), ("stdout", b"a\n"), ("stdout", b"c")]
            none = h.request(["sh", "-c", "echo gone"], log={"driver": "none", "path": ""})
            await h.zygote.start(none)
            assert (await ShimClient(none.bundle).wait()).exit_code == 0
    run(scenario())
