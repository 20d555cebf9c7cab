// run, create, start, stop, restart, pause, resume, rm, exec, console
#include <sys/ioctl.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <random>

#include "base/cli.h"
#include "base/rotating_log.h"
#include "cli/commands.h"
#include "cli/disk_flags.h"
#include "cli/env_file.h"
#include "cli/format.h"
#include "cli/local_path.h"
#include "cli/mount_flags.h"
#include "cli/recovery_flags.h"
#include "cli/signal_proxy.h"

namespace vessel::cli {

namespace {

struct CreateFlags {
  std::string name, image, rootfs, kernel, initramfs, cmdline, memory = "256";
  bool vm = false, attach = false, wait = false, detach = false;
  bool cluster_wide = false;  // run --cluster-wide: the cluster places it (docs/cluster.md)
  std::vector<std::string> constraints, affinity, anti_affinity;  // with --cluster-wide: where it may run
  std::string cluster_storage;  // with --cluster-wide: local or backup (docs/cluster.md#storage)
  bool sig_proxy = true;  // --sig-proxy
  bool name_given = false;  // --name "" is an error, not a request for a generated name
  double cpus = 1;
  uint32_t cpu_weight = 100, stop_timeout = 10;
  double cpu_reservation = -1;
  std::string memory_reservation;
  std::vector<std::string> env, labels, disks, command, log_opts;
  bool privileged = false;
  bool ksm = false;
  bool balloon = false;
  std::vector<std::string> cap_add, cap_drop, security_opt;
  std::optional<int64_t> pids_limit;
  std::string userns;
  std::string network;
  std::string pull = "missing";  // --pull
  std::vector<std::string> publish;
  std::vector<std::string> volumes, mounts, tmpfs;  // -v, --mount, --tmpfs (docs/daemon/volumes.md)
  // Docker's run habits (docs/daemon/run.md).
  bool auto_remove = false, tty = false, interactive = false, init = false;
  std::string workdir, user, hostname;
  std::optional<std::string> entrypoint;
  std::vector<std::string> env_files, label_files;
  PoolFlags pool;
  RecoveryFlags recovery;
};

void add_create_flags(CLI::App* c, CreateFlags& f) {
  c->add_flag("--vm", f.vm, "create a VM (default: a container)");
  c->add_option("--name", f.name, "instance name: letters, digits, '_', '.', '-' (default: generated)")
      ->each([&f](const std::string&) { f.name_given = true; });
  c->add_option("--rootfs", f.rootfs, "container: host directory used as the read-only root (instead of an image)");
  c->add_option("--kernel", f.kernel, "VM: kernel (bzImage or vmlinux) to boot instead of an image's");
  c->add_option("--initramfs", f.initramfs, "VM: initramfs");
  c->add_option("--cmdline", f.cmdline, "VM: kernel command line");
  c->add_flag("--ksm", f.ksm,
              "VM: mark guest memory mergeable, so that the kernel's KSM shares identical pages between VMs "
              "(ksmd must run: see `vessel host check`; `vessel stats` shows the pages merged)");
  c->add_flag("--balloon", f.balloon,
              "VM: give it a virtio-balloon (deflate on OOM, guest statistics every second, free page reporting). "
              "In a 'demand' pool vesseld's controller then sizes its memory from the guest's statistics: an idle "
              "VM's balloon inflates, a busy one's deflates (docs/daemon/pools.md). `vessel inspect` shows the "
              "balloon's target and actual size. No Docker equivalent");
  c->add_option("--cpus", f.cpus, "vCPUs (VM, a whole number) or CPU time in CPUs (container: 0.5 is half of one)")->capture_default_str();
  c->add_option("--memory,-m", f.memory, "memory limit: 256, 512M, 2G (MiB by default)")->capture_default_str();
  c->add_option("--cpu-reservation", f.cpu_reservation, "CPUs reserved for admission control (default: --cpus)");
  c->add_option("--memory-reservation", f.memory_reservation, "memory reserved for admission control (default: --memory)");
  c->add_option("--cpu-weight", f.cpu_weight, "relative CPU weight, 1..10000")->capture_default_str();
  c->add_option("--stop-timeout", f.stop_timeout, "seconds a graceful stop may take before it is forced")->capture_default_str();
  // One value per occurrence, so that `-e A=1 IMAGE` does not swallow the image.
  auto repeatable = [](CLI::Option* o) { o->allow_extra_args(false); };
  repeatable(c->add_option("--env,-e", f.env, "environment variable KEY=VALUE (repeatable; wins over --env-file)"));
  repeatable(c->add_option("--env-file", f.env_files,
                           "read environment variables from a file: KEY=VALUE lines, # comments; a bare KEY takes this "
                           "shell's value (repeatable)"));
  repeatable(c->add_option("--label,-l", f.labels, "label KEY=VALUE (repeatable)"));
  repeatable(c->add_option("--label-file", f.label_files, "read labels from a file of KEY=VALUE lines (repeatable)"));
  c->add_flag("--rm", f.auto_remove, "remove the instance once it stops, and when its start fails");
  c->add_flag("--tty,-t", f.tty,
              "container: give the command a terminal; `run` then attaches to it (your keys reach it, Ctrl-C "
              "included; Ctrl-] detaches; `vessel attach NAME` again)");
  c->add_flag("--interactive,-i", f.interactive,
              "container: keep its stdin open; `run -i` feeds it this stdin (until EOF) and prints the output; "
              "with -t what you type reaches the terminal");
  c->add_option("--workdir,-w", f.workdir, "container: working directory of the command (default: the image's, else /)");
  c->add_option("--user,-u", f.user,
                "container: run as NAME[:GROUP] or UID[:GID]; names are looked up in the container's /etc/passwd "
                "and /etc/group (default: the image's USER, else root)");
  c->add_option("--entrypoint", f.entrypoint,
                "container: run this program instead of the image's ENTRYPOINT (the image's CMD is dropped too; "
                "arguments after -- follow it); \"\" for none");
  c->add_option("--hostname", f.hostname, "container: its host name (default: the instance's name)");
  c->add_flag("--init", f.init,
              "container: run vessel-init as process 1; it starts the command, forwards signals to it and reaps "
              "orphans (a command as process 1 ignores SIGTERM unless it handles it: `stop` waits for the timeout)");
  repeatable(c->add_option("--disk", f.disks, "VM: extra disk: PATH[:ro], path=FILE[,format=raw|qcow2][,ro], or size=SIZE for a new empty qcow2 (repeatable)"));
  repeatable(c->add_option("--volume,-v", f.volumes,
                           "container: mount HOST-PATH:TARGET[:ro] (a bind) or NAME:TARGET[:ro] (a named volume, "
                           "made on first use) (repeatable)"));
  repeatable(c->add_option("--mount", f.mounts,
                           "container: type=bind|volume|tmpfs,source=...,target=...[,readonly][,tmpfs-size=SIZE] "
                           "(Docker's --mount) (repeatable)"));
  repeatable(c->add_option("--tmpfs", f.tmpfs, "container: a tmpfs at TARGET[:size=64m,mode=1777,ro] (repeatable)"));
  c->add_flag("--privileged", f.privileged, "container: every capability, no seccomp filter, every device, /sys writable");
  repeatable(c->add_option("--cap-add", f.cap_add, "container: add a capability (NET_ADMIN, SYS_ADMIN, ..., ALL) (repeatable)"));
  repeatable(c->add_option("--cap-drop", f.cap_drop, "container: drop a capability of the default set, or ALL (repeatable)"));
  repeatable(c->add_option("--security-opt", f.security_opt, "container: seccomp=unconfined or no-new-privileges (repeatable)"));
  c->add_option("--pids-limit", f.pids_limit, "container: most processes and threads at once (default 2048; 0 or -1: no limit)");
  c->add_option("--userns", f.userns,
                "container: host (default: root inside is the host's root) or auto (a private range of 65536 host "
                "ids from vesseld's pool; root inside is an unprivileged uid on the host)")
      ->check(CLI::IsMember({"host", "auto"}));
  repeatable(c->add_option("--log-opt", f.log_opts,
                           "cap of the console/output log, as Docker's json-file: max-size=SIZE (per file, e.g. 10m), "
                           "max-file=N (files kept); repeatable; default: vesseld's (10m x 3 unless it says otherwise)"));
  c->add_option("--network,--net", f.network,
                "NAME (a network of `vessel network ls`), none (loopback only) or host (the host's network stack); "
                "containers default to vesseld's default network (`vessel`), VMs to none (a VM on a network gets "
                "a tap on its bridge; host is for containers)");
  repeatable(c->add_option("--publish,-p", f.publish,
                           "publish a port: [IP:]HOST:GUEST[/tcp|udp], e.g. -p 8080:80 (repeatable; see `vessel port`)"));
  add_pool_flags(c, f.pool);
  auto& r = f.recovery;
  c->add_option("--restart", r.restart,
                "restart policy: no (default), on-failure[:N] (non-zero exit, at most N times), always, unless-stopped "
                "(as always, but not after `vessel stop`); back-off 100 ms doubling to 5 min (docs/daemon/restart.md)");
  c->add_option("--health-cmd", r.health_cmd, "command run in the instance (by /bin/sh -c) to check its health");
  c->add_option("--health-interval", r.health_interval, "time between health checks (30s, 1m30s, 500ms; default 30s)");
  c->add_option("--health-timeout", r.health_timeout, "time a health check may take (default 30s)");
  c->add_option("--health-retries", r.health_retries, "failures in a row that make it unhealthy (default 3)");
  c->add_option("--health-start-period", r.health_start_period, "failures during this time after a start do not count (default 0s)");
  c->add_flag("--no-healthcheck", r.no_healthcheck, "disable any health check, the image's HEALTHCHECK too");
  c->add_flag("--watchdog{reset}", r.watchdog,
              "VM: give the guest an IB700 watchdog (Linux: ib700wdt, /dev/watchdog); when the guest stops petting "
              "it, ACTION: reset (default) or poweroff end the VM with exit reason `watchdog` (a failure for "
              "--restart on-failure), pause pauses it, none only logs (--watchdog=ACTION; docs/vmm/watchdog.md)")
      ->check(CLI::IsMember({"reset", "poweroff", "pause", "none"}));
  c->add_option("image", f.image, "image name (vessel image ls) or a registry reference, pulled when missing");
  c->add_option("--pull", f.pull,
                "container images: missing (pull a reference the store lacks, the default), always (pull first), "
                "never")
      ->check(CLI::IsMember({"missing", "always", "never"}));
  c->add_option("command", f.command, "command and arguments (after --)");
}

// A generated name: the image's last path part without its tag or digest ("busybox" of
// "docker.io/library/busybox:1.36"), then six random hex digits.
// --cpus: a VM's are whole vCPUs; a container's may be a fraction (a quota below its whole CPUs).
Result<void> add_cpus(double cpus, bool vm, json::Json& spec) {
  if (!(cpus > 0) || cpus > 4096) return fail(EINVAL, "--cpus: {} is not a number of CPUs above 0", cpus);
  double whole = std::ceil(cpus);
  if (vm && whole != cpus)
    return Unexpected(Error(EINVAL, fmt::format("--cpus {}: a VM has whole vCPUs", cpus)).with_hint("pass --cpus 1, 2, ..."));
  spec["cpus"] = static_cast<uint32_t>(whole);
  if (whole != cpus) spec["cpu_quota"] = cpus;
  return {};
}

// The size of this terminal, for the container's (-t); {} when stdin and stdout are no terminal.
json::Json terminal_size() {
  winsize ws{};
  if (::ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) != 0 && ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) != 0) return json::Json::object();
  return {{"rows", ws.ws_row}, {"cols", ws.ws_col}};
}

std::string random_name(const std::string& image, bool vm) {
  std::random_device rd;
  std::string base = image.substr(image.rfind('/') == std::string::npos ? 0 : image.rfind('/') + 1);
  base = base.substr(0, base.find_first_of(":@"));
  std::string stem = !base.empty() ? base : vm ? "vm" : "container";
  if (stem.size() > 40) stem = stem.substr(0, 40);
  return fmt::format("{}-{:06x}", stem, rd() & 0xffffff);
}

Result<json::Json> spec_from_flags(CreateFlags f) {  // a copy: the env and label files are prepended
  // `vessel run --rootfs DIR -- CMD`: the first positional was the command, not an image.
  if ((!f.rootfs.empty() || !f.kernel.empty()) && !f.image.empty()) {
    f.command.insert(f.command.begin(), f.image);
    f.image.clear();
  }
  json::Json spec = {{"type", f.vm ? "vm" : "container"}, {"cpu_weight", f.cpu_weight}, {"stop_timeout_s", f.stop_timeout}};
  TRY(add_cpus(f.cpus, f.vm, spec));
  spec["memory_mib"] = TRY(parse_memory_mib(f.memory));
  if (!f.memory_reservation.empty()) spec["memory_reservation_mib"] = TRY(parse_memory_mib(f.memory_reservation));
  if (f.cpu_reservation >= 0) spec["cpu_reservation"] = f.cpu_reservation;
  if (f.ksm) spec["ksm"] = true;
  if (f.balloon) spec["balloon"] = json::Json::object();  // vesseld's defaults (spec/balloon_spec.h)
  if (f.name_given && f.name.empty())
    return Unexpected(Error(EINVAL, "--name is empty").with_hint("leave --name out for a generated name"));
  spec["name"] = f.name.empty() ? random_name(f.image, f.vm) : f.name;
  // The daemon takes absolute paths; the user may give relative ones.
  if (!f.image.empty()) spec["image"] = f.image;
  if (!f.rootfs.empty()) spec["rootfs"] = absolute_path(f.rootfs);
  if (!f.kernel.empty()) spec["kernel"] = absolute_path(f.kernel);
  if (!f.initramfs.empty()) spec["initramfs"] = absolute_path(f.initramfs);
  if (!f.cmdline.empty()) spec["cmdline"] = f.cmdline;
  if (!f.command.empty()) spec["command"] = f.command;
  if (f.auto_remove) spec["auto_remove"] = true;
  if (f.interactive && !f.vm) spec["interactive"] = true;
  if (f.tty) spec["tty"] = terminal_size();
  if (!f.workdir.empty()) spec["workdir"] = f.workdir;
  if (!f.user.empty()) spec["user"] = f.user;
  if (!f.hostname.empty()) spec["hostname"] = f.hostname;
  if (f.init) spec["init"] = true;
  if (f.entrypoint) spec["entrypoint"] = f.entrypoint->empty() ? json::Json::array() : json::Json::array({*f.entrypoint});
  // The files first, in order: a later line wins, and -e and -l on the command line win over all.
  auto env_lines = TRY(read_env_files(f.env_files, BareKey::FromEnvironment, "--env-file"));
  auto label_lines = TRY(read_env_files(f.label_files, BareKey::Empty, "--label-file"));
  f.env.insert(f.env.begin(), env_lines.begin(), env_lines.end());
  f.labels.insert(f.labels.begin(), label_lines.begin(), label_lines.end());
  json::Json env = json::Json::object(), labels = json::Json::object();
  for (const auto& e : f.env) {
    auto [k, v] = TRY(parse_key_value(e, "--env"));
    env[k] = v;
  }
  for (const auto& l : f.labels) {
    auto [k, v] = TRY(parse_key_value(l, "--label"));
    labels[k] = v;
  }
  if (f.privileged) spec["privileged"] = true;
  if (!f.cap_add.empty()) spec["cap_add"] = f.cap_add;
  if (!f.cap_drop.empty()) spec["cap_drop"] = f.cap_drop;
  if (!f.security_opt.empty()) spec["security_opt"] = f.security_opt;
  if (f.pids_limit) spec["pids_limit"] = *f.pids_limit;
  if (!f.userns.empty()) spec["userns"] = f.userns;
  if (!f.network.empty()) spec["network"] = f.network;
  TRY(add_pool_to_spec(f.pool, spec));
  if (!f.publish.empty()) spec["ports"] = f.publish;  // vesseld parses each [IP:]HOST:GUEST[/PROTO]
  if (!env.empty()) spec["environment"] = env;
  if (!labels.empty()) spec["labels"] = labels;
  if (!f.log_opts.empty()) {
    // Only what was given: the rest stays vesseld's default.
    json::Json log = json::Json::object();
    for (const auto& opt : f.log_opts) {
      LogLimits l;
      TRY(apply_log_opt(opt, l));
      if (opt.rfind("max-size=", 0) == 0) log["max_size"] = l.max_size;
      else log["max_file"] = l.max_files;
    }
    spec["log"] = log;
  }
  TRY(apply_recovery_flags(f.recovery, spec));
  json::Json mounts = json::Json::array();
  for (const auto& v : f.volumes) mounts.push_back(TRY(parse_volume_flag(v)));
  for (const auto& m : f.mounts) mounts.push_back(TRY(parse_mount_flag(m)));
  for (const auto& t : f.tmpfs) mounts.push_back(TRY(parse_tmpfs_flag(t)));
  if (!mounts.empty()) spec["mounts"] = mounts;
  if (!f.disks.empty()) {
    json::Json disks = json::Json::array();
    for (const auto& d : f.disks) disks.push_back(TRY(parse_instance_disk(d)));
    spec["disks"] = disks;
  }
  return spec;
}

}  // namespace

Result<void> follow_logs(Client& client, const std::string& name) {
  TRY(client.call("GET", "/v1/instances/" + escape_segment(name)));
  return client.stream("GET", "/v1/instances/" + escape_segment(name) + "/logs?follow=1", "", [](std::string_view d) {
    (void)!::write(1, d.data(), d.size());
    return true;
  });
}

int report(const Error& error) {
  print_error("vessel", error);
  return kExitFailure;
}

static int start_failure_status(const Error& error) {
  print_error("vessel", error);
  // Docker's statuses for a command that cannot run: 127 not found, 126 found but not executable.
  // vesseld says so as the runtime's status (container_backend.cc), as Docker's CLI reads its daemon's text.
  if (error.message().find("create failed (fail 127)") != std::string::npos) return 127;
  if (error.message().find("create failed (fail 126)") != std::string::npos) return 126;
  return kExitFailure;
}

// vessel run --cluster-wide: the spec goes to the cluster's desired state (etcd) through this
// vesseld; the elected scheduler places it on a node, which runs it. Prints its name.
static int run_cluster_wide(Context& ctx, const CreateFlags& flags, const json::Json& spec) {
  if (flags.attach || flags.wait || flags.tty || flags.interactive || flags.auto_remove)
    return report(Error(EINVAL, "--cluster-wide runs detached: it excludes --attach, --wait, -t, -i and --rm")
                      .with_hint("follow it with `vessel logs -f NAME` on the node that runs it (vessel inspect NAME shows \"node\")"));
  if (flags.name.empty()) return report(Error(EINVAL, "--cluster-wide needs --name").with_hint("add --name NAME"));
  json::Json body = spec;
  if (!flags.constraints.empty() || !flags.affinity.empty() || !flags.anti_affinity.empty())
    body["placement"] = {{"constraints", flags.constraints}, {"affinity", flags.affinity}, {"anti_affinity", flags.anti_affinity}};
  if (!flags.cluster_storage.empty()) body["storage"] = flags.cluster_storage;
  auto r = ctx.client().call("POST", "/v1/instances?cluster=1", body);
  if (!r) return report(r.error());
  fmt::print("{}\n", r->value("name", ""));
  return 0;
}

// Where a --cluster-wide instance may run (docs/cluster.md#placement-rules).
void add_placement_flags(CLI::App* c, CreateFlags& f) {
  auto repeatable = [](CLI::Option* o) { o->allow_extra_args(false); };  // `--constraint X IMAGE`: not two values
  repeatable(c->add_option("--constraint", f.constraints,
                           "with --cluster-wide: a node it may run on, as Docker Swarm's: node.labels.KEY==VALUE, "
                           "node.labels.KEY!=VALUE (vesseld --labels), node.hostname==NODE, node.hostname!=NODE "
                           "(repeatable: all must hold)"));
  repeatable(c->add_option("--affinity", f.affinity,
                           "with --cluster-wide: KEY=VALUE, run it on a node that already runs an instance with that "
                           "label (--label); the first of its own kind starts anywhere (repeatable)"));
  repeatable(c->add_option("--anti-affinity", f.anti_affinity,
                           "with --cluster-wide: KEY=VALUE, never on a node that runs an instance with that label, "
                           "its own kind included: one per node (repeatable)"));
  c->add_option("--cluster-storage", f.cluster_storage,
                "with --cluster-wide: what a node that takes it over (failover, drain) starts it with: local (a "
                "fresh root filesystem and empty volumes: its files stay behind) or backup (its root filesystem's "
                "changes from the last of the backups its node writes to vesseld --cluster-backups every "
                "--cluster-backup-every seconds and at a clean stop; writes since then, and volumes, are lost). "
                "Default local (docs/cluster.md#storage)")
      ->check(CLI::IsMember({"local", "backup"}));
}

// The name of an instance acted on, and what vesseld warns about it (a clustered instance's node
// that is not ready: docs/cluster.md#forwarding).
void print_done(const std::string& name, const json::Json& answer) {
  fmt::print("{}\n", name);
  if (answer.is_object() && answer.contains("warning")) fmt::print(stderr, "warning: {}\n", answer.value("warning", ""));
}

// vessel create / run: creates (and starts); run -a prints the output, -t attaches to the terminal,
// --wait waits; those exit with the instance's status.
static int create_or_run(Context& ctx, const CreateFlags& flags, bool start) {
  if (flags.detach && (flags.attach || flags.wait)) return report(Error(EINVAL, "--detach excludes --attach and --wait"));
  auto client = ctx.client();
  auto spec = spec_from_flags(flags);
  if (!spec) return report(spec.error());
  if (flags.cluster_wide) return run_cluster_wide(ctx, flags, *spec);
  if (!flags.constraints.empty() || !flags.affinity.empty() || !flags.anti_affinity.empty() || !flags.cluster_storage.empty())
    return report(Error(EINVAL, "--constraint, --affinity, --anti-affinity and --cluster-storage are for clustered instances")
                      .with_hint("add --cluster-wide, or drop them"));
  bool terminal = start && flags.tty && !flags.detach;  // Docker's run -t is attached
  bool feeds_stdin = start && flags.interactive && !flags.tty && !flags.detach;  // and so is run -i
  bool waits = flags.attach || flags.wait || terminal || feeds_stdin;
  // --rm with a wait: vesseld keeps the stopped instance until the wait below has answered.
  bool hold = flags.auto_remove && waits;
  auto create = [&] {
    return client.call("POST", !start ? "/v1/instances" : hold ? "/v1/instances?start=1&hold=1" : "/v1/instances?start=1", *spec);
  };
  bool pullable = !flags.vm && !flags.image.empty();
  if (pullable && flags.pull == "always") {
    if (auto pulled = pull_image(client, flags.image, false, false); !pulled) return report(pulled.error());
  }
  auto r = create();
  // As docker run: an image the store lacks is pulled, then the create is tried again.
  // (vesseld's errors reach the CLI as text: "no image named X" is the image store's ENOENT.)
  if (!r && pullable && flags.pull == "missing" && r.error().message().find("no image named") != std::string::npos) {
    if (auto pulled = pull_image(client, flags.image, false, false); !pulled) return report(pulled.error());
    r = create();
  }
  if (!r) return start_failure_status(r.error());
  std::string name = r->value("name", "");
  if (!terminal) {
    fmt::print("{}\n", name);
    std::fflush(stdout);
  }
  // -a: the signals this CLI gets go to the instance (Docker's --sig-proxy): Ctrl-C stops it.
  std::optional<SignalProxy> proxy;
  if ((flags.attach || feeds_stdin) && !terminal && flags.sig_proxy) proxy.emplace(ctx.client(), name);
  if (feeds_stdin) {
    auto code = attach_stdin(ctx, name);
    return code ? *code : report(code.error());
  }
  if (terminal) {
    auto attached = console(ctx, name);
    if (attached && *attached) return 0;  // detached with Ctrl-]: it keeps running
    if (!attached) (void)follow_logs(client, name);  // it ended before the attach: what it printed
  } else if (flags.attach) {
    if (auto f = follow_logs(client, name); !f) return report(f.error());
  }
  if (!waits) return 0;
  auto answer = wait_instance(client, name);
  if (!answer) return report(answer.error());
  auto code = exit_status_of(*answer, name);
  return code ? *code : report(code.error());
}

void add_instance_commands(CLI::App& app, Context& ctx) {
  for (bool start : {true, false}) {
    auto flags = std::make_shared<CreateFlags>();
    auto* c = app.add_subcommand(start ? "run" : "create",
                                 start ? "create and start an instance; prints its name"
                                       : "create an instance without starting it; prints its name");
    c->footer(start ? "Examples:\n  vessel run busybox -- /bin/sh -c 'echo hi'\n  vessel run --rootfs /srv/rootfs --name web -- /bin/httpd -f\n"
                      "  vessel run --name web -p 8080:80 busybox -- /bin/httpd -f -p 80   (then: curl 127.0.0.1:8080)\n"
                      "  vessel run --vm --kernel /boot/vmlinuz --initramfs /boot/initrd.img -m 512M\n"
                      "The instance runs detached; add --attach to print its output until it stops."
                    : "Same flags as `vessel run`; start it later with `vessel start NAME`.");
    add_create_flags(c, *flags);
    if (start) {
      c->add_flag("--attach,-a", flags->attach,
                  "print the instance's output until it stops; exit with its exit status; the signals this command "
                  "gets (Ctrl-C) are sent to the instance");
      c->add_option("--sig-proxy", flags->sig_proxy,
                    "with --attach or -i: send the signals this command gets to the instance (default true; "
                    "--sig-proxy=false leaves them to this command: Ctrl-C ends it and the instance runs on)")
          ->default_str("true");
      c->add_flag("--wait", flags->wait, "wait until the instance stops; exit with its exit status (see `vessel wait`)");
      c->add_flag("--detach,-d", flags->detach, "print the name and return at once (the default; Docker's -d)");
      c->add_flag("--cluster-wide", flags->cluster_wide,
                  "run it in the cluster this vesseld is in (vesseld --cluster): its spec goes to etcd, the cluster's "
                  "scheduler places it on a node, and with a --restart policy it moves to another node when that one "
                  "dies (docs/cluster.md). Needs --name; `vessel ls` and `inspect` show its \"node\"");
      add_placement_flags(c, *flags);
    }
    c->callback([&ctx, flags, start] { ctx.status = create_or_run(ctx, *flags, start); });
  }

  struct Verb { const char* name; const char* help; };
  for (Verb v : {Verb{"start", "start instances (created or stopped)"}, Verb{"pause", "pause instances (VM: vCPUs stopped; container: frozen)"},
                 Verb{"resume", "resume paused instances, and suspended or checkpointed ones from disk"}}) {
    auto names = std::make_shared<std::vector<std::string>>();
    auto* c = app.add_subcommand(v.name, v.help);
    c->add_option("names", *names, "instance names")->required();
    std::string verb = v.name;
    c->callback([&ctx, names, verb] {
      auto client = ctx.client();
      for (const auto& n : *names) {
        auto r = client.call("POST", "/v1/instances/" + escape_segment(n) + "/" + verb);
        if (!r) ctx.status = report(r.error());
        else print_done(n, *r);
      }
    });
  }

  for (const char* verb : {"stop", "restart"}) {
    auto names = std::make_shared<std::vector<std::string>>();
    auto timeout = std::make_shared<int>(-1);
    auto force = std::make_shared<bool>(false);
    auto* c = app.add_subcommand(verb, std::string(verb) == "stop"
                                           ? "stop instances: ACPI CtrlAltDel (VM) or SIGTERM (container), forced after the timeout"
                                           : "stop (if running) and start instances again");
    c->add_option("names", *names, "instance names")->required();
    c->add_option("--timeout,-t", *timeout, "seconds before the stop is forced (default: the instance's stop timeout)");
    c->add_flag("--force,-f", *force, "kill at once");
    std::string v = verb;
    c->callback([&ctx, names, timeout, force, v] {
      auto client = ctx.client();
      json::Json body = json::Json::object();
      if (*timeout >= 0) body["timeout_s"] = *timeout;
      if (*force) body["force"] = true;
      for (const auto& n : *names) {
        auto r = client.call("POST", "/v1/instances/" + escape_segment(n) + "/" + v, body);
        if (!r) ctx.status = report(r.error());
        else print_done(n, *r);
      }
    });
  }

  {
    auto names = std::make_shared<std::vector<std::string>>();
    auto signal = std::make_shared<std::string>("KILL");
    auto* c = app.add_subcommand("kill", "send a signal to running instances (a container's command; a VM takes only KILL)");
    c->footer("Examples:\n  vessel kill web                # SIGKILL\n  vessel kill -s HUP web         # reload\n"
              "The exit, if it ends, is recorded as any other (`vessel inspect`, `vessel wait`).");
    c->add_option("names", *names, "instance names")->required();
    c->add_option("--signal,-s", *signal, "signal name (KILL, TERM, INT, HUP, USR1, SIGUSR2 ...) or number")->capture_default_str();
    c->callback([&ctx, names, signal] {
      auto client = ctx.client();
      for (const auto& n : *names) {
        auto r = client.call("POST", "/v1/instances/" + escape_segment(n) + "/kill?signal=" + escape_segment(*signal));
        if (!r) ctx.status = report(r.error());
        else print_done(n, *r);
      }
    });
  }

  {
    auto names = std::make_shared<std::vector<std::string>>();
    auto force = std::make_shared<bool>(false), volumes = std::make_shared<bool>(false);
    auto* c = app.add_subcommand("rm", "delete instances (stopped ones; --force stops running ones first)");
    c->alias("delete");
    c->add_option("names", *names, "instance names")->required();
    c->add_flag("--force,-f", *force, "kill a running instance and delete it");
    c->add_flag("--volumes,-v", *volumes, "delete its anonymous volumes (-v /path) too; named ones stay");
    c->callback([&ctx, names, force, volumes] {
      auto client = ctx.client();
      std::string query = *force && *volumes ? "?force=1&volumes=1" : *force ? "?force=1" : *volumes ? "?volumes=1" : "";
      for (const auto& n : *names) {
        auto r = client.call("DELETE", "/v1/instances/" + escape_segment(n) + query);
        if (!r) ctx.status = report(r.error());
        else print_done(n, *r);
      }
    });
  }

  // exec, console and wait: attach.cc
}

}  // namespace vessel::cli
