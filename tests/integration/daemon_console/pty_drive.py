#!/usr/bin/env python3
"""Runs a command on a new pseudo-terminal and drives it like a person at a keyboard.

usage: pty_drive.py [--rows R --cols C] [--timeout S] STEP... -- COMMAND ARGS...
  expect:TEXT    wait until TEXT has appeared in the output (since the last expect)
  send:TEXT      type TEXT (Python escapes: \\x1d is Ctrl-], \\r is Enter)
  resize:RxC     change the terminal size (the command gets SIGWINCH)
  sleep:SECONDS
Prints everything the command wrote, then exits with the command's exit status (124 when an
expect or the command timed out, with what was seen on stderr).
"""
import codecs
import fcntl
import os
import pty
import select
import struct
import sys
import termios
import time


def set_size(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def main():
    args = sys.argv[1:]
    rows, cols, timeout = 24, 80, 60.0
    steps = []
    while args and args[0] != "--":
        a = args.pop(0)
        if a == "--rows":
            rows = int(args.pop(0))
        elif a == "--cols":
            cols = int(args.pop(0))
        elif a == "--timeout":
            timeout = float(args.pop(0))
        else:
            kind, _, value = a.partition(":")
            steps.append((kind, codecs.decode(value, "unicode_escape")))
    command = args[1:]
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(command[0], command)
    set_size(fd, rows, cols)
    out = b""
    seen_from = 0
    deadline = time.time() + timeout

    def pump(wait):
        nonlocal out
        r, _, _ = select.select([fd], [], [], wait)
        if r:
            try:
                data = os.read(fd, 65536)
            except OSError:
                return False
            if not data:
                return False
            out += data
        return True

    for kind, value in steps:
        if kind == "expect":
            needle = value.encode()
            while out.find(needle, seen_from) < 0:
                if time.time() > deadline or not pump(0.1):
                    if out.find(needle, seen_from) >= 0:
                        break
                    sys.stdout.write(out.decode(errors="replace"))
                    sys.stderr.write("pty_drive: did not see %r\n" % value)
                    os.kill(pid, 9)
                    sys.exit(124)
            seen_from = out.find(needle, seen_from) + len(needle)
        elif kind == "send":
            os.write(fd, value.encode())
        elif kind == "resize":
            r, _, c = value.partition("x")
            set_size(fd, int(r), int(c))  # the kernel sends SIGWINCH to the command
        elif kind == "sleep":
            end = time.time() + float(value)
            while time.time() < end:
                pump(0.05)
    # Until the command exits (its output drained), or the deadline.
    while time.time() < deadline:
        alive = pump(0.1)
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            while pump(0.05):
                pass
            sys.stdout.write(out.decode(errors="replace"))
            sys.exit(os.waitstatus_to_exitcode(status))
        if not alive:
            time.sleep(0.05)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    sys.stdout.write(out.decode(errors="replace"))
    sys.stderr.write("pty_drive: the command did not exit in time\n")
    sys.exit(124)


if __name__ == "__main__":
    main()
