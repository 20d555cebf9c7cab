// vessel bench overhead: the same workloads on the host, in a container and in a VM, interleaved,
// with the median time of each and the seed's P_v = T_native / T_place
// (docs/benchmarks/overhead.md). It drives vesseld like any client: creates the instances, copies
// vessel-workload in with the `vessel cp` path, runs it with exec, checks every exit status, and
// removes the instances.
#include <signal.h>
#include <stdlib.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "base/cli.h"
#include "base/process.h"
#include "cli/commands.h"
#include "cli/format.h"
#include "cli/local_path.h"
#include "cli/overhead_report.h"

namespace vessel::cli {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr const char* kProgramInside = "/tmp/vessel-workload";
const std::vector<std::string> kAllWorkloads = {"cpu", "mem", "syscall", "file", "net"};

struct BenchFlags {
  std::vector<std::string> workloads = kAllWorkloads;
  std::vector<std::string> places = overhead::all_places();
  int runs = 5;
  double scale = 1;
  bool json = false;
  std::string image = "busybox", rootfs, guest, program, memory = "512M";
  uint32_t cpus = 0;  // 0: min(2, this host's)
  int boot_timeout_s = 600;
};

volatile sig_atomic_t interrupted = 0;

// Ctrl-C ends the current run, then the instances are removed (not left behind).
class InterruptGuard {
 public:
  InterruptGuard() {
    struct sigaction sa {};
    sa.sa_handler = [](int) { interrupted = 1; };
    ::sigaction(SIGINT, &sa, &old_int_);
    ::sigaction(SIGTERM, &sa, &old_term_);
  }
  ~InterruptGuard() {
    ::sigaction(SIGINT, &old_int_, nullptr);
    ::sigaction(SIGTERM, &old_term_, nullptr);
  }

 private:
  struct sigaction old_int_ {
  }, old_term_{};
};

// One line of progress on a terminal (stderr), rewritten in place.
class Progress {
 public:
  Progress() : show_(::isatty(2)) {}
  ~Progress() { clear(); }
  void say(const std::string& text) {
    if (!show_) return;
    fmt::print(stderr, "\r\033[K{}", text);
    std::fflush(stderr);
    shown_ = true;
  }
  void clear() {
    if (show_ && shown_) fmt::print(stderr, "\r\033[K");
    shown_ = false;
  }

 private:
  bool show_, shown_ = false;
};

// The instances this run created, force-removed however it ends.
class Instances {
 public:
  explicit Instances(Client& client) : client_(client) {}
  ~Instances() {
    for (const auto& n : names_)
      (void)client_.call("DELETE", "/v1/instances/" + escape_segment(n) + "?force=1");
  }
  Result<void> create(json::Json spec) {
    std::string name = spec["name"];
    names_.push_back(name);  // before the call: a half-made instance is removed too
    TRY_CTX(client_.call("POST", "/v1/instances?start=1", spec), "create {}", name);
    return {};
  }

 private:
  Client& client_;
  std::vector<std::string> names_;
};

fs::path self_dir() {
  std::error_code ec;
  return fs::read_symlink("/proc/self/exe", ec).parent_path();
}

// vessel-workload: the flag, else beside vessel (installed) or in the build tree, else $PATH.
Result<std::string> find_program(const std::string& flag) {
  if (!flag.empty()) {
    if (::access(flag.c_str(), X_OK) != 0) return fail_errno("--workload-program {}", flag);
    return absolute_path(flag);
  }
  for (const auto& c :
       {self_dir() / "vessel-workload", self_dir() / ".." / "workload" / "vessel-workload"})
    if (::access(c.c_str(), X_OK) == 0) return fs::weakly_canonical(c).string();
  if (const char* path = ::getenv("PATH")) {
    std::string dirs = path;
    for (size_t pos = 0; pos <= dirs.size();) {
      size_t next = std::min(dirs.find(':', pos), dirs.size());
      std::string c = dirs.substr(pos, next - pos) + "/vessel-workload";
      if (::access(c.c_str(), X_OK) == 0) return c;
      pos = next + 1;
    }
  }
  return Unexpected(
      Error(ENOENT, "vessel-workload not found beside vessel or in $PATH")
          .with_hint("build it (ninja vessel-workload) or pass --workload-program PATH"));
}

struct Guest {
  std::string kernel, initramfs, cmdline;
};

// The default guest (docs/vmm/default-guest.md): --guest, else the build tree's, else installed.
Result<Guest> find_guest(const std::string& flag) {
  std::vector<fs::path> dirs;
  if (!flag.empty())
    dirs = {flag};
  else
    dirs = {self_dir() / ".." / ".." / "guest", self_dir() / ".." / "share" / "vessel" / "guest",
            "/usr/share/vessel/guest"};
  for (const auto& d : dirs) {
    Guest g;
    for (const char* k : {"vmlinux", "vmlinuz"})
      if (g.kernel.empty() && fs::exists(d / k)) g.kernel = fs::weakly_canonical(d / k).string();
    std::ifstream cmdline(d / "cmdline");
    if (g.kernel.empty() || !fs::exists(d / "initramfs.cpio") || !std::getline(cmdline, g.cmdline))
      continue;
    g.initramfs = fs::weakly_canonical(d / "initramfs.cpio").string();
    return g;
  }
  return Unexpected(
      Error(ENOENT,
            fmt::format("no default guest (vmlinux or vmlinuz, initramfs.cpio, cmdline) in {}",
                        flag.empty() ? "the build tree or /usr/share/vessel/guest" : flag))
          .with_hint("build it (ninja default_guest; docs/vmm/default-guest.md), pass --guest DIR, "
                     "or leave the VM out: --in native,container"));
}

std::string unique_name(const std::string& what) {
  return fmt::format("bench-overhead-{}-{}-{:04x}", what, ::getpid(),
                     Clock::now().time_since_epoch().count() & 0xffff);
}

struct Target {
  std::string place, instance, program, file_dir;
};

// The command's exit status and output, wherever it ran.
struct RunOutput {
  int status = -1;
  std::string output;
};

Result<RunOutput> run_in(Client& client, const Target& t, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {t.program};
  argv.insert(argv.end(), args.begin(), args.end());
  if (t.place == "native") {
    auto r = TRY(run_capture(argv));
    return RunOutput{r.status.exited() ? r.status.code : 128 + r.status.signal, std::move(r.out)};
  }
  auto j = TRY(client.call("POST", "/v1/instances/" + escape_segment(t.instance) + "/exec",
                           json::Json{{"command", argv}}));
  auto code = j.find("exit_code");
  if (code == j.end() || !code->is_number_integer())
    return fail(EPROTO, "vesseld's exec answer has no exit_code");
  return RunOutput{code->get<int>(), j.value("output", "")};
}

// A VM answers exec once its guest's vessel-agent listens: until then, retry (while it runs).
Result<void> wait_for_agent(Client& client, const Target& vm, int timeout_s, Progress& progress) {
  auto start = Clock::now();
  Error last(0, "no answer yet");
  while (!interrupted) {
    auto elapsed = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - start).count();
    progress.say(fmt::format("booting the VM {} and waiting for its vessel-agent ({} s)",
                             vm.instance, elapsed));
    auto r = client.call("POST", "/v1/instances/" + escape_segment(vm.instance) + "/exec",
                         json::Json{{"command", {"true"}}});
    if (r && r->value("exit_code", -1) == 0) return {};
    if (!r) last = r.error();
    auto info = TRY(client.call("GET", "/v1/instances/" + escape_segment(vm.instance)));
    if (info.value("state", "") != "running") {
      // The instance is removed on the way out: its console goes into the message.
      auto console =
          client.call_text("GET", "/v1/instances/" + escape_segment(vm.instance) + "/logs")
              .value_or("");
      if (console.size() > 2000) console = "..." + console.substr(console.size() - 2000);
      return Unexpected(
          Error(EIO, fmt::format("the VM {} stopped while booting ({}); its console:\n{}",
                                 vm.instance, info.value("state", "?"), console))
              .with_hint("the guest must be the default guest with vessel-agent (--guest)"));
    }
    if (elapsed >= timeout_s)
      return Unexpected(
          Error(ETIMEDOUT, fmt::format("the VM's vessel-agent did not answer within {} s: {}",
                                       timeout_s, last.to_string()))
              .with_hint("a stock-Linux boot takes ~20 min on a PVM host: raise --boot-timeout"));
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  return fail(EINTR, "interrupted");
}

json::Json container_spec(const BenchFlags& f, const std::string& name, uint64_t memory_mib) {
  json::Json spec = {{"type", "container"},
                     {"name", name},
                     {"cpus", f.cpus},
                     {"cpu_reservation", 0},
                     {"memory_mib", memory_mib},
                     {"network", "none"},
                     {"command", {"/bin/sleep", "1000000"}}};
  if (!f.rootfs.empty())
    spec["rootfs"] = absolute_path(f.rootfs);
  else
    spec["image"] = f.image;
  return spec;
}

json::Json vm_spec(const BenchFlags& f, const std::string& name, uint64_t memory_mib,
                   const Guest& g) {
  // The guest's /init runs the command after " -- " and powers off when it ends: it must outlive
  // the runs.
  return {{"type", "vm"},
          {"name", name},
          {"cpus", f.cpus},
          {"cpu_reservation", 0},
          {"memory_mib", memory_mib},
          {"kernel", g.kernel},
          {"initramfs", g.initramfs},
          {"cmdline", g.cmdline + " -- sleep 1000000"}};
}

std::string load_average() {
  std::ifstream f("/proc/loadavg");
  std::string one, five, fifteen;
  f >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

// What the figures describe: this host, and what each place was.
json::Json describe_host() {
  utsname u{};
  ::uname(&u);
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line, model;
  bool hypervisor = false;
  while (std::getline(cpuinfo, line)) {
    if (model.empty() && line.rfind("model name", 0) == 0) model = line.substr(line.find(':') + 2);
    if (line.rfind("flags", 0) == 0 && line.find(" hypervisor") != std::string::npos)
      hypervisor = true;
  }
  auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return {{"date", date},
          {"kernel", u.release},
          {"cpu", model},
          {"cpus", std::thread::hardware_concurrency()},
          {"host_is_a_guest", hypervisor},
          {"load_average_before", load_average()}};
}

// Runs one workload once in one place, checks it and records it.
Result<void> measure(Client& client, const Target& t, const BenchFlags& f,
                     overhead::WorkloadFigures& figures, const std::string& workload) {
  std::vector<std::string> args = {workload, "--scale", fmt::format("{:g}", f.scale), "--dir",
                                   t.file_dir};
  auto start = Clock::now();
  auto out = TRY_CTX(run_in(client, t, args), "run {} in {}", workload, t.place);
  double wall = std::chrono::duration<double>(Clock::now() - start).count();
  if (out.status != 0)
    return Unexpected(
        Error(EIO, fmt::format("{} in {} exited with status {}: {}", workload, t.place, out.status,
                               out.output.substr(0, 500)))
            .with_hint("a failed run is never reported as a time; fix the cause and run again"));
  auto outcome = TRY(overhead::parse_outcome(out.output, workload));
  return overhead::add_sample(figures, t.place, outcome, wall);
}

Result<void> check_flags(BenchFlags& f) {
  for (const auto& w : f.workloads)
    if (std::find(kAllWorkloads.begin(), kAllWorkloads.end(), w) == kAllWorkloads.end())
      return fail(EINVAL, "--workloads: no workload named '{}' (cpu, mem, syscall, file, net)", w);
  for (const auto& p : f.places)
    if (std::find(overhead::all_places().begin(), overhead::all_places().end(), p) ==
        overhead::all_places().end())
      return fail(EINVAL, "--in: no place named '{}' (native, container, vm)", p);
  if (std::find(f.places.begin(), f.places.end(), "native") == f.places.end())
    return fail(EINVAL, "--in must include native: every ratio is against it");
  if (f.runs < 1 || f.runs > 1000) return fail(EINVAL, "--runs: 1..1000");
  if (!(f.scale > 0 && f.scale <= 1000)) return fail(EINVAL, "--scale: more than 0, at most 1000");
  if (f.cpus == 0) f.cpus = std::clamp(std::thread::hardware_concurrency(), 1u, 2u);
  return {};
}

bool wants(const BenchFlags& f, const std::string& place) {
  return std::find(f.places.begin(), f.places.end(), place) != f.places.end();
}

// A private tmpfs folder for the native `file` runs (containers: /dev/shm, VMs: /tmp, both tmpfs).
class NativeDir {
 public:
  Result<std::string> make() {
    char tmpl[] = "/dev/shm/vessel-bench.XXXXXX";
    if (!::mkdtemp(tmpl)) return fail_errno("mkdtemp /dev/shm/vessel-bench.XXXXXX");
    path_ = tmpl;
    return path_;
  }
  ~NativeDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }

 private:
  std::string path_;
};

Result<overhead::Report> bench_overhead(const Context& ctx, BenchFlags f) {
  if (!ctx.remote.url.empty())
    return Unexpected(Error(ENOTSUP,
                            "vessel bench overhead compares with this host: it works over "
                            "vesseld's Unix socket only")
                          .with_hint("run it on the host (ssh HOST vessel bench overhead ...)"));
  TRY(check_flags(f));
  std::string program = TRY(find_program(f.program));
  uint64_t memory_mib = TRY(parse_memory_mib(f.memory));
  std::optional<Guest> guest;
  if (wants(f, "vm")) guest = TRY(find_guest(f.guest));
  auto client = ctx.client();
  InterruptGuard interrupt_guard;
  Progress progress;
  Instances instances(client);
  NativeDir native_dir;
  overhead::Report report;
  report.runs = f.runs;
  report.scale = f.scale;
  report.places = f.places;
  report.where = {{"host", describe_host()}};
  std::vector<Target> targets;
  for (const auto& place : f.places) {
    Target t{place, "", kProgramInside, place == "vm" ? "/tmp" : "/dev/shm"};
    if (place == "native") {
      t.program = program;
      t.file_dir = TRY(native_dir.make());
      report.where["native"] = {{"program", program}, {"file_dir", t.file_dir + " (tmpfs)"}};
    } else if (place == "container") {
      t.instance = unique_name("ct");
      progress.say("starting the container " + t.instance);
      TRY(instances.create(container_spec(f, t.instance, memory_mib)));
      report.where["container"] = {{"name", t.instance},
                                   {"root", f.rootfs.empty() ? "image " + f.image : f.rootfs},
                                   {"cpus", f.cpus},
                                   {"memory_mib", memory_mib},
                                   {"network", "none (loopback)"},
                                   {"file_dir", "/dev/shm (tmpfs)"}};
    } else {
      t.instance = unique_name("vm");
      progress.say("starting the VM " + t.instance);
      TRY(instances.create(vm_spec(f, t.instance, memory_mib, *guest)));
      TRY(wait_for_agent(client, t, f.boot_timeout_s, progress));
      report.where["vm"] = {{"name", t.instance},
                            {"kernel", guest->kernel},
                            {"cpus", f.cpus},
                            {"memory_mib", memory_mib},
                            {"file_dir", "/tmp (the guest's tmpfs)"}};
    }
    if (!t.instance.empty()) {
      progress.say("copying vessel-workload into " + t.instance);
      TRY_CTX(copy_to_instance(client, program, t.instance, kProgramInside), "copy {} into {}",
              program, t.instance);
    }
    targets.push_back(std::move(t));
  }
  for (const auto& w : f.workloads)
    report.workloads.push_back(overhead::WorkloadFigures{w, "", "", 0, {}});
  // Interleaved: run by run, workload by workload, the places in a rotating order.
  size_t total = static_cast<size_t>(f.runs) * f.workloads.size() * targets.size(), done = 0;
  for (int run = 0; run < f.runs; ++run) {
    for (size_t wi = 0; wi < f.workloads.size(); ++wi) {
      for (size_t k = 0; k < targets.size(); ++k) {
        const Target& t = targets[(k + static_cast<size_t>(run) + wi) % targets.size()];
        if (interrupted)
          return fail(EINTR, "interrupted: the instances are removed, nothing is reported");
        progress.say(fmt::format("[{}/{}] run {}/{}: {} in {}", ++done, total, run + 1, f.runs,
                                 f.workloads[wi], t.place));
        TRY(measure(client, t, f, report.workloads[wi], f.workloads[wi]));
      }
    }
  }
  report.where["host"]["load_average_after"] = load_average();
  return report;
}

}  // namespace

void add_bench_commands(CLI::App& app, Context& ctx) {
  auto* bench =
      app.add_subcommand("bench", "measure this host: the overhead of containers and VMs");
  bench->require_subcommand(1);
  auto f = std::make_shared<BenchFlags>();
  auto* c = bench->add_subcommand(
      "overhead",
      "run the same workloads on the host, in a container and in a VM; print each time "
      "and the seed's P_v = T_native / T_place");
  c->footer(
      "Starts a container (--image, or --rootfs) and a VM (the default guest, --guest) through "
      "vesseld,\n"
      "copies vessel-workload into each (as `vessel cp`), and runs each workload --runs times in "
      "every\n"
      "place, interleaved (run by run, workload by workload, the places in rotating order). Every "
      "run's\n"
      "exit status and output are checked, and every place must report the same work and checksum: "
      "a\n"
      "failed run stops the benchmark and is never reported as a time. The instances are removed "
      "at\n"
      "the end, also on error or Ctrl-C.\n\n"
      "Workloads (amounts at --scale 1; `vessel-workload --help`): cpu (100 M xorshift rounds),\n"
      "mem (128 x memcpy of 32 MiB), syscall (500 k getppid), file (128 x 4 MiB written, read\n"
      "back, unlinked on a tmpfs: /dev/shm on the host and in the container, the guest's /tmp in\n"
      "the VM), net (512 MiB over TCP on 127.0.0.1 inside each place: that kernel's TCP stack,\n"
      "not the virtual NIC).\n\n"
      "T is the workload's own time (its clock, inside the place; start-up and exec excluded; the\n"
      "JSON also has the CLI's wall time around each run). P = T_native / T_place, medians of the "
      "runs:\n"
      "1.00 no overhead, 0.50 twice as long as on the host. Tests never assert these figures.\n\n"
      "Examples:\n"
      "  vessel bench overhead\n"
      "  vessel bench overhead --in native,container --rootfs /srv/busybox --runs 3\n"
      "  vessel bench overhead --workloads cpu,syscall --runs 1 --json > overhead.json\n"
      "  bench/overhead/plot.py overhead.png overhead.json\n"
      "Exit status: 0 all runs done and checked; 1 an instance, a run or a check failed; 2 usage "
      "error.");
  c->add_option("--workloads", f->workloads,
                "comma-separated: cpu,mem,syscall,file,net (default all)")
      ->delimiter(',');
  c->add_option("--in", f->places,
                "comma-separated places: native,container,vm (default all; native is required)")
      ->delimiter(',');
  c->add_option("--runs,-n", f->runs,
                "runs of each workload in each place; the report gives medians")
      ->capture_default_str();
  c->add_option("--scale", f->scale,
                "multiply every workload's work by this (e.g. 0.1 under emulation)")
      ->capture_default_str();
  c->add_option("--image", f->image,
                "container image (vessel image ls); it needs /bin/sleep and /tmp")
      ->capture_default_str();
  c->add_option("--rootfs", f->rootfs,
                "container: a host directory as its root instead of an image");
  c->add_option("--guest", f->guest,
                "VM: a folder with vmlinux or vmlinuz, initramfs.cpio and cmdline, built by "
                "guest/build-default-guest.sh "
                "(default: the build tree's, then /usr/share/vessel/guest); its initramfs must "
                "carry vessel-agent");
  c->add_option("--memory,-m", f->memory, "memory of the container and the VM")
      ->capture_default_str();
  c->add_option("--cpus", f->cpus,
                "CPUs of the container (quota) and the VM (vCPUs); default min(2, this host's)");
  c->add_option("--boot-timeout", f->boot_timeout_s,
                "seconds the VM may take until its vessel-agent answers")
      ->capture_default_str();
  c->add_option("--workload-program", f->program,
                "vessel-workload to use (default: beside vessel, then $PATH)");
  c->add_flag("--json", f->json,
              "print the report as JSON: every run's times and exit status, medians, P per place");
  c->callback([&ctx, f] {
    auto result = bench_overhead(ctx, *f);
    if (!result) {
      ctx.status = report(result.error());
      return;
    }
    if (f->json) {
      fmt::print("{}\n", json::dump(overhead::to_json(*result), 2));
      return;
    }
    fmt::print("{}", overhead::to_table(*result));
    fmt::print(
        "T: median of {} runs, the workload's own time; P = T native / T there (1.00: no "
        "overhead)\n",
        result->runs);
  });
}

}  // namespace vessel::cli
