#!/usr/bin/env python3
"""sdholder: what systemd does for sessiond.socket + sessiond.service, for tests.

systemd is not PID 1 on the test machines, so this plays its part by the
documented protocols (sd_listen_fds(3), sd_notify(3)):

- creates the unix socket (path, mode, owner, backlog as a socket unit does)
  and keeps it open for its whole life, across restarts of the service;
- starts the service command with the socket as fd 3, LISTEN_FDS=1 and
  LISTEN_PID=<the service's pid>, and NOTIFY_SOCKET pointing at a datagram
  socket it listens on (the command may exec setpriv/sh: the pid stays);
- runs --pre (ExecStartPre) through sh before each start;
- SIGHUP: restarts the service the way `systemctl restart` does (SIGTERM,
  wait for the exit, --pre, start again); SIGUSR1: forwards SIGHUP (reload);
  SIGTERM/SIGINT: stops the service and exits (the socket file stays).

Every event is one line in --events (flushed at once), so a test orders its
steps by what it observes there:
  start pid=N | exit pid=N status=S | notify pid=N sender=P msg=READY=1 ...
On READY=1 it counts `event=worker_ready` lines in --log since that start and,
with --health URL, fetches it at once and records the status:
  ready pid=N workers_ready=K health=200
"""
import argparse
import grp
import os
import pwd
import select
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--mode", default="0660")
    ap.add_argument("--user")
    ap.add_argument("--group")
    ap.add_argument("--backlog", type=int, default=4096)
    ap.add_argument("--notify", required=True, help="path of the NOTIFY_SOCKET datagram socket")
    ap.add_argument("--events", required=True)
    ap.add_argument("--log", help="the service's log, to count worker_ready lines at READY=1")
    ap.add_argument("--health", help="URL fetched at READY=1")
    ap.add_argument("--pre", help="shell command run before each start (ExecStartPre)")
    ap.add_argument("--output", help="file the service's stdout and stderr are appended to")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    if not cmd:
        ap.error("no service command")

    events = open(a.events, "a", buffering=1)

    def event(line):
        events.write("%.3f %s\n" % (time.time(), line))

    # The socket unit's part: bind, chmod/chown, listen; held for good.
    if os.path.exists(a.listen):
        os.unlink(a.listen)
    lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lsock.bind(a.listen)
    os.chmod(a.listen, int(a.mode, 8))
    if a.user or a.group:
        os.chown(a.listen, pwd.getpwnam(a.user).pw_uid if a.user else -1,
                 grp.getgrnam(a.group).gr_gid if a.group else -1)
    lsock.listen(a.backlog)

    if os.path.exists(a.notify):
        os.unlink(a.notify)
    nsock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    nsock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    nsock.bind(a.notify)
    # The service may run as another user: it must be able to send.
    os.chmod(a.notify, 0o666)

    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    pending = []

    def on_signal(sig, _frame):
        pending.append(sig)
        try:
            os.write(wake_w, b"x")
        except BlockingIOError:
            pass

    for s in (signal.SIGHUP, signal.SIGUSR1, signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
        signal.signal(s, on_signal)

    state = {"pid": 0, "log_off": 0}

    def start():
        if a.pre:
            with open(a.output or os.devnull, "a") as out:
                rc = subprocess.call(["sh", "-c", a.pre], stdin=subprocess.DEVNULL, stdout=out, stderr=out)
            event("pre status=%d" % rc)
            if rc != 0:
                return
        state["log_off"] = os.path.getsize(a.log) if a.log and os.path.exists(a.log) else 0
        out = os.open(a.output, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644) if a.output else None
        pid = os.fork()
        if pid == 0:
            try:
                for s in (signal.SIGHUP, signal.SIGUSR1, signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
                    signal.signal(s, signal.SIG_DFL)
                os.dup2(lsock.fileno(), 3)
                os.set_inheritable(3, True)
                devnull = os.open(os.devnull, os.O_RDONLY)
                os.dup2(devnull, 0)
                if out is not None:
                    os.dup2(out, 1)
                    os.dup2(out, 2)
                env = dict(os.environ)
                env.update(LISTEN_FDS="1", LISTEN_PID=str(os.getpid()), NOTIFY_SOCKET=a.notify)
                os.closerange(4, 1024)
                os.execvpe(cmd[0], cmd, env)
            finally:
                os._exit(127)
        if out is not None:
            os.close(out)
        state["pid"] = pid
        event("start pid=%d" % pid)

    def reap():
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            event("exit pid=%d status=%d" % (pid, status))
            if pid == state["pid"]:
                state["pid"] = 0

    def stop():
        pid = state["pid"]
        if not pid:
            return
        os.kill(pid, signal.SIGTERM)
        while state["pid"] == pid:
            # Blocking wait: systemd's stop job waits for the main process too.
            try:
                wpid, status = os.waitpid(pid, 0)
            except ChildProcessError:
                state["pid"] = 0
                break
            event("exit pid=%d status=%d" % (wpid, status))
            state["pid"] = 0

    def on_notify():
        msg, anc, _flags, _addr = nsock.recvmsg(4096, socket.CMSG_SPACE(12))
        sender = 0
        for level, typ, data in anc:
            if level == socket.SOL_SOCKET and typ == socket.SCM_CREDENTIALS:
                sender = struct.unpack("iII", data[:12])[0]
        text = msg.decode("utf-8", "replace")
        event("notify pid=%d sender=%d msg=%s" % (state["pid"], sender, text.replace("\n", ",")))
        if "READY=1" not in text.split("\n"):
            return
        ready = 0
        if a.log:
            with open(a.log, "rb") as f:
                f.seek(state["log_off"])
                ready = f.read().count(b"event=worker_ready")
        health = "-"
        if a.health:
            try:
                with urllib.request.urlopen(a.health, timeout=5) as r:
                    health = str(r.status)
            except urllib.error.HTTPError as e:
                health = str(e.code)
            except Exception as e:  # noqa: BLE001 - recorded, the test judges it
                health = "error:" + type(e).__name__
        event("ready pid=%d sender=%d workers_ready=%d health=%s" % (state["pid"], sender, ready, health))

    start()
    while True:
        try:
            r, _, _ = select.select([nsock, wake_r], [], [])
        except InterruptedError:
            continue
        if nsock in r:
            on_notify()
        if wake_r in r:
            os.read(wake_r, 4096)
        while pending:
            sig = pending.pop(0)
            if sig == signal.SIGCHLD:
                reap()
            elif sig == signal.SIGHUP:
                event("restart")
                stop()
                start()
            elif sig == signal.SIGUSR1 and state["pid"]:
                os.kill(state["pid"], signal.SIGHUP)
            elif sig in (signal.SIGTERM, signal.SIGINT):
                stop()
                event("stopped")
                return 0


if __name__ == "__main__":
    sys.exit(main())
