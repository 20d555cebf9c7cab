// run, create, start, stop, restart, pause, resume, rm, exec, console
#include <unistd.h>

#include <filesystem>
#include <random>

#include "base/cli.h"
#include "base/rotating_log.h"
#include "cli/commands.h"
#include "cli/disk_flags.h"
#include "cli/format.h"
#include "cli/recovery_flags.h"

namespace vessel::cli {

namespace {

struct CreateFlags {
  std::string name, image, rootfs, kernel, initramfs, cmdline, memory = "256";
  bool vm = false, attach = false, wait = false;
  uint32_t cpus = 1, cpu_weight = 100, stop_timeout = 10;
  double cpu_reservation = -1;
  std::string memory_reservation;
  std::vector<std::string> env, labels, disks, command, log_opts;
  bool privileged = false;
  bool ksm = false;
  std::vector<std::string> cap_add, cap_drop, security_opt;
  std::optional<int64_t> pids_limit;
  std::string userns;
  std::string network;
  std::string pull = "missing";  // --pull
  std::vector<std::string> publish;
  PoolFlags pool;
  RecoveryFlags recovery;
};

void add_create_flags(CLI::App* c, CreateFlags& f) {
  c->add_flag("--vm", f.vm, "create a VM (default: a container)");
  c->add_option("--name", f.name, "instance name: letters, digits, '_', '.', '-' (default: generated)");
  c->add_option("--rootfs", f.rootfs, "container: host directory used as the read-only root (instead of an image)");
  c->add_option("--kernel", f.kernel, "VM: kernel (bzImage or vmlinux) to boot instead of an image's");
  c->add_option("--initramfs", f.initramfs, "VM: initramfs");
  c->add_option("--cmdline", f.cmdline, "VM: kernel command line");
  c->add_flag("--ksm", f.ksm,
              "VM: mark guest memory mergeable, so that the kernel's KSM shares identical pages between VMs "
              "(ksmd must run: see `vessel host check`; `vessel stats` shows the pages merged)");
  c->add_option("--cpus", f.cpus, "vCPUs (VM) or CPU quota in CPUs (container)")->capture_default_str();
  c->add_option("--memory,-m", f.memory, "memory limit: 256, 512M, 2G (MiB by default)")->capture_default_str();
  c->add_option("--cpu-reservation", f.cpu_reservation, "CPUs reserved for admission control (default: --cpus)");
  c->add_option("--memory-reservation", f.memory_reservation, "memory reserved for admission control (default: --memory)");
  c->add_option("--cpu-weight", f.cpu_weight, "relative CPU weight, 1..10000")->capture_default_str();
  c->add_option("--stop-timeout", f.stop_timeout, "seconds a graceful stop may take before it is forced")->capture_default_str();
  // One value per occurrence, so that `-e A=1 IMAGE` does not swallow the image.
  auto repeatable = [](CLI::Option* o) { o->allow_extra_args(false); };
  repeatable(c->add_option("--env,-e", f.env, "environment variable KEY=VALUE (repeatable)"));
  repeatable(c->add_option("--label,-l", f.labels, "label KEY=VALUE (repeatable)"));
  repeatable(c->add_option("--disk", f.disks, "VM: extra disk: PATH[:ro], path=FILE[,format=raw|qcow2][,ro], or size=SIZE for a new empty qcow2 (repeatable)"));
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
  c->add_option("image", f.image, "image name (vessel image ls) or a registry reference, pulled when missing");
  c->add_option("--pull", f.pull,
                "container images: missing (pull a reference the store lacks, the default), always (pull first), "
                "never")
      ->check(CLI::IsMember({"missing", "always", "never"}));
  c->add_option("command", f.command, "command and arguments (after --)");
}

std::string random_name(const std::string& base) {
  std::random_device rd;
  std::string stem = base.empty() ? "instance" : base;
  if (stem.size() > 40) stem = stem.substr(0, 40);
  return fmt::format("{}-{:06x}", stem, rd() & 0xffffff);
}

Result<json::Json> spec_from_flags(CreateFlags f) {
  // `vessel run --rootfs DIR -- CMD`: the first positional was the command, not an image.
  if ((!f.rootfs.empty() || !f.kernel.empty()) && !f.image.empty()) {
    f.command.insert(f.command.begin(), f.image);
    f.image.clear();
  }
  json::Json spec = {{"type", f.vm ? "vm" : "container"}, {"cpus", f.cpus}, {"cpu_weight", f.cpu_weight},
                     {"stop_timeout_s", f.stop_timeout}};
  spec["memory_mib"] = TRY(parse_memory_mib(f.memory));
  if (!f.memory_reservation.empty()) spec["memory_reservation_mib"] = TRY(parse_memory_mib(f.memory_reservation));
  if (f.cpu_reservation >= 0) spec["cpu_reservation"] = f.cpu_reservation;
  if (f.ksm) spec["ksm"] = true;
  spec["name"] = f.name.empty() ? random_name(!f.image.empty() ? f.image : (f.vm ? "vm" : "container")) : f.name;
  // The daemon takes absolute paths; the user may give relative ones.
  auto absolute = [](const std::string& p) {
    std::error_code ec;
    return p.empty() || p[0] == '/' ? p : std::filesystem::absolute(p, ec).string();
  };
  if (!f.image.empty()) spec["image"] = f.image;
  if (!f.rootfs.empty()) spec["rootfs"] = absolute(f.rootfs);
  if (!f.kernel.empty()) spec["kernel"] = absolute(f.kernel);
  if (!f.initramfs.empty()) spec["initramfs"] = absolute(f.initramfs);
  if (!f.cmdline.empty()) spec["cmdline"] = f.cmdline;
  if (!f.command.empty()) spec["command"] = f.command;
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
  if (!f.disks.empty()) {
    json::Json disks = json::Json::array();
    for (const auto& d : f.disks) disks.push_back(TRY(parse_instance_disk(d)));
    spec["disks"] = disks;
  }
  return spec;
}

// Prints the log until the instance stops (run --attach, console).
Result<void> follow_logs(Client& client, const std::string& name) {
  TRY(client.call("GET", "/v1/instances/" + escape_segment(name)));
  return client.stream("GET", "/v1/instances/" + escape_segment(name) + "/logs?follow=1", "", [](std::string_view d) {
    (void)!::write(1, d.data(), d.size());
    return true;
  });
}

}  // namespace

int report(const Error& error) {
  print_error("vessel", error);
  return kExitFailure;
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
      c->add_flag("--attach,-a", flags->attach, "print the instance's output until it stops; exit with its exit status");
      c->add_flag("--wait,-w", flags->wait, "wait until the instance stops; exit with its exit status (see `vessel wait`)");
    }
    c->callback([&ctx, flags, start] {
      auto client = ctx.client();
      auto spec = spec_from_flags(*flags);
      if (!spec) { ctx.status = report(spec.error()); return; }
      auto create = [&] { return client.call("POST", start ? "/v1/instances?start=1" : "/v1/instances", *spec); };
      bool pullable = !flags->vm && !flags->image.empty();
      if (pullable && flags->pull == "always") {
        auto pulled = pull_image(client, flags->image, false, false);
        if (!pulled) { ctx.status = report(pulled.error()); return; }
      }
      auto r = create();
      // As docker run: an image the store lacks is pulled, then the create is tried again.
      // (vesseld's errors reach the CLI as text: "no image named X" is the image store's ENOENT.)
      if (!r && pullable && flags->pull == "missing" && r.error().message().find("no image named") != std::string::npos) {
        auto pulled = pull_image(client, flags->image, false, false);
        if (!pulled) { ctx.status = report(pulled.error()); return; }
        r = create();
      }
      if (!r) { ctx.status = report(r.error()); return; }
      std::string name = r->value("name", "");
      fmt::print("{}\n", name);
      std::fflush(stdout);
      if (flags->attach) {
        auto f = follow_logs(client, name);
        if (!f) { ctx.status = report(f.error()); return; }
      }
      if (flags->attach || flags->wait) {
        auto answer = wait_instance(client, name);
        if (!answer) { ctx.status = report(answer.error()); return; }
        auto code = exit_status_of(*answer, name);
        ctx.status = code ? *code : report(code.error());
      }
    });
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
        else fmt::print("{}\n", n);
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
        else fmt::print("{}\n", n);
      }
    });
  }

  {
    auto names = std::make_shared<std::vector<std::string>>();
    auto force = std::make_shared<bool>(false);
    auto* c = app.add_subcommand("rm", "delete instances (stopped ones; --force stops running ones first)");
    c->alias("delete");
    c->add_option("names", *names, "instance names")->required();
    c->add_flag("--force,-f", *force, "kill a running instance and delete it");
    c->callback([&ctx, names, force] {
      auto client = ctx.client();
      for (const auto& n : *names) {
        auto r = client.call("DELETE", "/v1/instances/" + escape_segment(n) + (*force ? "?force=1" : ""));
        if (!r) ctx.status = report(r.error());
        else fmt::print("{}\n", n);
      }
    });
  }

  // exec, console and wait: attach.cc
}

}  // namespace vessel::cli
