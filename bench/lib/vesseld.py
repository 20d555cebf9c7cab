"""A private vesseld for a benchmark: its own socket, state and cgroup parent under `tmp`."""
import os, subprocess, time


def start_vesseld(build, tmp, cgroup_parent, runtime=None, extra=()):
    """Starts BUILD's vesseld; returns (its Popen, the vessel command line that talks to it)."""
    sock = f"{tmp}/vessel.sock"
    runtime = runtime or f"{build}/src/runtime/vessel-runtime"
    daemon = subprocess.Popen([f"{build}/src/daemon/vesseld", "--socket", sock, "--state-dir", f"{tmp}/state",
                               "--runtime", runtime, "--cgroup-parent", cgroup_parent, "--log-level", "warn", *extra],
                              stdout=open(f"{tmp}/vesseld.log", "w"), stderr=subprocess.STDOUT)
    for _ in range(200):
        if os.path.exists(sock):
            break
        time.sleep(0.05)
    return daemon, [f"{build}/src/cli/vessel", "--socket", sock]
