"""Tap runs for the tests, forked from a process that imported the tap once.

A `python -m tap_zohocrm` spends most of a short test run importing singer-sdk, requests and
pyarrow: about 0.7 s of CPU, some 500 times a suite. This server (one per test process, started
by tests/helpers.py) imports them once, then forks a fresh process per run, which runs the tap's
`__main__` as `python -m tap_zohocrm` does: its own arguments, environment, working directory,
stdin from /dev/null, stdout and stderr to files, the interpreter's own exit (atexit, threads,
exit code). The server itself never runs the tap and starts no thread, so every fork starts
from the same state. `TAP_TESTS_FORK=0` runs each tap as a plain subprocess instead.

Protocol, over a Unix socket: one JSON line per run ({argv, env, cwd, stdout, stderr}); the
server answers with the run's pid, then with its exit status once it ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import socket
import sys
from typing import Any


def serve(path: str) -> dict[str, Any]:
    """Answer runs until stdin closes (the test process is gone). Returns in the forked child,
    with the run it is to be."""
    import tap_zohocrm.cli  # what `python -m tap_zohocrm` imports
    import tap_zohocrm.tap  # noqa: F401

    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path + ".new")
    server.listen(16)
    os.rename(path + ".new", path)  # there once it accepts
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the runs' watchers reap themselves
    watch = selectors.DefaultSelector()
    watch.register(server, selectors.EVENT_READ)
    watch.register(sys.stdin, selectors.EVENT_READ)
    while True:
        for key, _ in watch.select():
            if key.fileobj is sys.stdin:
                for leftover in (path, path + ".log"):
                    with contextlib.suppress(OSError):
                        os.unlink(leftover)
                os._exit(0)
            conn, _ = server.accept()
            if os.fork() == 0:
                watch.close()
                server.close()
                return _watch(conn)
            conn.close()


def _watch(conn: socket.socket) -> dict[str, Any]:
    """In a fork of the server: fork the run, tell its pid, wait for it, tell its status."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    request = json.loads(conn.makefile("r", encoding="utf-8").readline())
    pid = os.fork()
    if pid == 0:
        conn.close()
        return request
    conn.sendall(f"{pid}\n".encode())
    _, status = os.waitpid(pid, 0)
    conn.sendall(f"{os.waitstatus_to_exitcode(status)}\n".encode())
    conn.close()
    os._exit(0)


def become(request: dict[str, Any]) -> None:
    """Turn this fork into the run: `python -m tap_zohocrm <argv>` in its own surroundings."""
    os.setpgrp()  # its own process group, so a timeout kills the run and what it started
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    written = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    for fd, name, mode in ((0, os.devnull, os.O_RDONLY),
                           (1, request["stdout"], written),
                           (2, request["stderr"], written)):
        target = os.open(name, mode)
        os.dup2(target, fd)
        os.close(target)
    sys.path[0] = os.getcwd()
    sys.argv = ["-m", *request["argv"]]
    import runpy

    runpy.run_module("tap_zohocrm", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    become(serve(sys.argv[1]))
