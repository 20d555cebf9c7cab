#include "runtime/cli/help.h"

#include <cstring>

namespace vessel::runtime::cli {

const char* main_help() {
  return R"(NAME
    vessel-runtime - run OCI containers (runc's command line)

SYNOPSIS
    vessel-runtime [GLOBAL OPTIONS] COMMAND [OPTIONS] [ARGUMENTS...]

DESCRIPTION
    vessel-runtime creates and runs containers from an OCI bundle (a directory with config.json
    and a root file system), following the OCI runtime specification 1.0-1.2. It takes runc's
    commands and flags, so podman, containerd and vesseld can drive it unchanged. It supports
    cgroup v1, v2 and the hybrid layout (v1 controllers plus a cgroup2 mount with controllers).

COMMANDS
    create     create a container (init waits for `start`)
    start      start the user process of a created container
    run        create and start a container; waits for it unless --detach
    state      print the state of a container as JSON
    kill       send a signal to the container's init (or every process with --all)
    delete     delete a stopped container (--force: kill it first)
    exec       run a new process inside a running container
    ps         list the processes of a container
    pause      freeze every process of a container (cgroup freezer)
    resume     thaw a paused container
    update     change the cgroup resources of a container
    events     print resource statistics (--stats)
    list       list containers
    spec       write a default config.json
    features   print the features this runtime supports as JSON
    checkpoint dump a running container to disk with CRIU (it ends unless --leave-running)
    restore    create a container again from a checkpoint

GLOBAL OPTIONS
    --root DIR            where container state is kept (default /run/vessel-runtime)
    --log FILE            also write log and error messages to FILE
    --log-format FORMAT   text or json (default text)
    --debug               log debug messages
    --systemd-cgroup      the systemd cgroup driver: each container's cgroup is a transient
                          scope systemd makes over D-Bus (Delegate=yes, the limits as unit
                          properties), stopped at delete; linux.cgroupsPath is
                          "slice:prefix:name" (default system.slice:vessel-runtime:ID).
                          Needs systemd as the host's init; elsewhere it fails
    --cgroup-manager M    crun's flag: systemd (as --systemd-cgroup), cgroupfs or disabled
    --rootless VALUE, --criu PATH   accepted for compatibility, ignored
    -v, --version         print the version
    -h, --help            print this help (COMMAND --help for a command)

EXIT STATUS
    0 on success, 1 on failure (the error is printed on stderr and, with --log, in the log);
    run and exec without --detach exit with the container process's status (128+N when it
    was killed by signal N); exec's own failures exit with 255, as runc's do.
)";
}

namespace {
struct Help {
  const char* command;
  const char* text;
};
constexpr Help kHelp[] = {
    {"create", R"(vessel-runtime create [OPTIONS] CONTAINER-ID
    Create a container from the bundle: namespaces, cgroup, mounts and the init process, which
    waits for `start`. A failed create leaves no state, cgroup or process behind.
OPTIONS
    -b, --bundle DIR        bundle directory (default: the current directory)
    --pid-file FILE         write the init's pid to FILE
    --console-socket PATH   Unix socket that receives the pty master when process.terminal is true
    --no-pivot              use MS_MOVE + chroot instead of pivot_root (rootfs on a ramdisk)
    --preserve-fds N        pass N extra file descriptors (3 .. 3+N-1) to the container
    --no-new-keyring        accepted, ignored
)"},
    {"run", R"(vessel-runtime run [OPTIONS] CONTAINER-ID
    Create and start a container. Without --detach, wait for it, forward signals to it, delete
    it and exit with its status.
OPTIONS
    the options of create, and
    -d, --detach            return once the container is running
    --keep                  accepted, ignored
)"},
    {"start", "vessel-runtime start CONTAINER-ID\n    Start the user process of a created container.\n"},
    {"state", "vessel-runtime state CONTAINER-ID\n    Print the OCI state of a container as JSON.\n"},
    {"kill", R"(vessel-runtime kill [OPTIONS] CONTAINER-ID [SIGNAL]
    Send SIGNAL (name or number, default TERM) to the container's init.
OPTIONS
    -a, --all               send it to every process in the container's cgroup
)"},
    {"delete", R"(vessel-runtime delete [OPTIONS] CONTAINER-ID
    Delete a stopped (or created) container: its cgroup, state, and run poststop hooks.
OPTIONS
    -f, --force             kill a running container first; no error when it does not exist
)"},
    {"exec", R"(vessel-runtime exec [OPTIONS] CONTAINER-ID [COMMAND [ARGS...]]
    Run a process inside a running container, in its namespaces and cgroup, with its seccomp
    filter and, unless overridden, the identity, environment and capabilities of its process.
OPTIONS
    -p, --process FILE      the process as an OCI process JSON object (replaces COMMAND)
    -t, --tty               allocate a pty (needs --console-socket)
    --console-socket PATH   socket that receives the pty master
    --pid-file FILE         write the new process's pid to FILE
    -d, --detach            do not wait for the process
    -e, --env NAME=VALUE    add or replace an environment variable (repeatable)
    --cwd DIR               working directory inside the container
    -u, --user UID[:GID]    user to run as
    -g, --additional-gids GID   extra group (repeatable)
    -c, --cap CAP           add a capability (repeatable)
    --no-new-privs          set no_new_privs
    --preserve-fds N        pass N extra file descriptors
)"},
    {"ps", R"(vessel-runtime ps [OPTIONS] CONTAINER-ID [PS ARGS...]
    List the container's processes: as `ps` output (default `ps -ef`, filtered) or JSON pids.
OPTIONS
    -f, --format table|json
)"},
    {"pause", "vessel-runtime pause CONTAINER-ID\n    Freeze every process of the container.\n"},
    {"resume", "vessel-runtime resume CONTAINER-ID\n    Thaw a paused container.\n"},
    {"update", R"(vessel-runtime update [OPTIONS] CONTAINER-ID
    Change cgroup resources of a running container.
OPTIONS
    -r, --resources FILE    OCI linux.resources JSON ("-" reads stdin)
    --memory BYTES, --memory-swap BYTES, --memory-reservation BYTES (k, m, g suffixes)
    --cpu-shares N, --cpu-period US, --cpu-quota US, --cpu-rt-period US, --cpu-rt-runtime US
    --cpuset-cpus LIST, --cpuset-mems LIST, --pids-limit N, --blkio-weight N
)"},
    {"events", R"(vessel-runtime events [OPTIONS] CONTAINER-ID
    Print resource usage as JSON lines.
OPTIONS
    --stats                 print one statistics record and exit
    --interval DURATION     seconds between records (default 5s)
)"},
    {"list", R"(vessel-runtime list [OPTIONS]
    List containers.
OPTIONS
    -q, --quiet             ids only
    -f, --format table|json
)"},
    {"spec", R"(vessel-runtime spec [OPTIONS]
    Write a default config.json (fails if one exists).
OPTIONS
    -b, --bundle DIR        where to write it
    --rootless              a config for a user namespace
)"},
    {"features", "vessel-runtime features\n    Print the supported features as JSON.\n"},
    {"checkpoint",
     "vessel-runtime checkpoint [OPTIONS] CONTAINER-ID\n"
     "    Dump the container's processes with CRIU (--criu PATH, default criu); the container is\n"
     "    deleted afterwards unless --leave-running.\n"
     "    --image-path DIR       where the images go (default ./checkpoint)\n"
     "    --work-path DIR        where dump.log goes (default: the image path)\n"
     "    --leave-running        keep the container running after the dump\n"
     "    --tcp-established      dump established TCP connections\n"
     "    --ext-unix-sk          allow external unix sockets\n"
     "    --shell-job            allow a controlling terminal outside the container\n"
     "    --file-locks           dump file locks\n"
     "    --manage-cgroups-mode  soft|full|strict|ignore (default ignore)\n"},
    {"restore",
     "vessel-runtime restore [OPTIONS] CONTAINER-ID\n"
     "    Create the container again from a checkpoint and the bundle's config.json.\n"
     "    --image-path DIR       the checkpoint (default ./checkpoint)\n"
     "    --work-path DIR        where restore.log goes (default: the image path)\n"
     "    --bundle, -b DIR       the bundle (default .)\n"
     "    --detach, -d           return once restored (else wait for the container and delete it)\n"
     "    --pid-file FILE        write the restored init's pid to FILE\n"
     "    --tcp-established, --ext-unix-sk, --shell-job, --file-locks, --manage-cgroups-mode: as checkpoint's\n"},
};
}  // namespace

const char* command_help(const char* command) {
  for (const auto& h : kHelp)
    if (strcmp(h.command, command) == 0) return h.text;
  return nullptr;
}

}  // namespace vessel::runtime::cli
