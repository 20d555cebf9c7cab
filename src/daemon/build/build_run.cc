// RUN: a container of the daemon's own backend (vessel-runtime through vessel-shim), as `vessel
// run` starts one, but on the build's overlay and with no instance behind it.
#include <sys/stat.h>
#include <unistd.h>

#include <random>
#include <thread>

#include "base/fd.h"
#include "base/log_stamp.h"
#include "daemon/build/build_layer.h"
#include "daemon/build/build_steps.h"
#include "daemon/instances/container_backend.h"
#include "daemon/instances/exit_status.h"
#include "daemon/policy/cgroups.h"

namespace vessel::daemon::build {

namespace {

constexpr std::chrono::seconds kExitFileWait{30};

// The runtime's name for the step: '+' is not allowed in instance names, so none collides.
std::string run_container_name() {
  std::random_device rd;
  return fmt::format("build+{:08x}{:08x}", rd(), rd());
}

InstanceSpec run_spec(const StageState& state, const std::vector<std::string>& argv, const std::string& name) {
  InstanceSpec spec;
  spec.name = name;
  spec.command = argv;
  spec.process.entrypoint = std::vector<std::string>{};
  spec.process.workdir = workdir_of(state);
  spec.process.user = state.config.value("User", "");
  spec.process.hostname = "vessel-build";
  // Build steps are not held to an instance's defaults (256 MiB): the host's memory and CPUs.
  spec.memory_mib = static_cast<uint64_t>(::sysconf(_SC_PHYS_PAGES)) * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE)) >> 20;
  spec.cpus = std::max(1u, std::thread::hardware_concurrency());
  for (const auto& [k, v] : state.args) spec.environment[k] = v;  // ARGs are RUN's variables
  if (state.config["Env"].is_array())
    for (const auto& kv : state.config["Env"]) {
      if (!kv.is_string()) continue;
      auto s = kv.get<std::string>();
      auto eq = s.find('=');
      if (eq != std::string::npos) spec.environment[s.substr(0, eq)] = s.substr(eq + 1);
    }
  return spec;
}

// Reads what the log gained since `offset`, without the shim's time stamps, line by line.
class OutputRelay {
 public:
  OutputRelay(std::string path, const BuildLog& log) : path_(std::move(path)), log_(log) {}
  void poll(bool final) {
    auto fd = Fd::open(path_, O_RDONLY | O_CLOEXEC);
    if (!fd) return;
    char buf[65536];
    for (;;) {
      ssize_t n = ::pread(fd->get(), buf, sizeof buf, offset_);
      if (n <= 0) break;
      offset_ += n;
      pending_.append(buf, static_cast<size_t>(n));
    }
    size_t nl;
    while ((nl = pending_.find('\n')) != std::string::npos) {
      emit(pending_.substr(0, nl));
      pending_.erase(0, nl + 1);
    }
    if (final && !pending_.empty()) emit(std::exchange(pending_, {}));
  }
  std::string tail() const {
    std::string out;
    for (const auto& l : tail_) out += l + "\n";
    return out;
  }

 private:
  void emit(std::string line) {
    if (parse_log_stamp(line)) line.erase(0, std::min(line.size(), kLogStampSize));
    if (tail_.size() == 20) tail_.erase(tail_.begin());
    tail_.push_back(line);
    log_(json::Json{{"output", line}});
  }
  std::string path_;
  const BuildLog& log_;
  off_t offset_ = 0;
  std::string pending_;
  std::vector<std::string> tail_;
};

// Does any of the layers hold `rel` (a whiteout above it aside)?
bool in_layers(const std::vector<std::string>& layers, const std::string& rel) {
  struct stat st;
  for (const auto& l : layers)
    if (::lstat((l + "/" + rel).c_str(), &st) == 0) return true;
  return false;
}

}  // namespace

Result<RunResult> run_in_container(const StepEnv& env, const StageState& state, const std::vector<std::string>& argv,
                                   const std::string& dir) {
  std::string name = run_container_name();
  InstanceSpec spec = run_spec(state, argv, name);
  InstanceContext ctx{spec, dir, dir + "/output.log"};
  ctx.cgroup = cgroup_path(env.cgroup_parent, name);
  ctx.log = LogLimits{1ull << 30, 2};
  ctx.netns = env.network == "host" ? "host" : "";
  BootSource boot;
  boot.layers = TRY(layer_dirs(env, state.layers));
  // On the host's network, the host's resolver, as Docker gives RUN one (read-only, not in the layer).
  bool own_resolv = in_layers(boot.layers, "etc/resolv.conf");
  if (env.network == "host" && ::access("/etc/resolv.conf", R_OK) == 0) ctx.etc_files = {{"/etc/resolv.conf", "/etc/resolv.conf"}};
  auto proc = TRY_CTX(env.containers.start(ctx, boot), "start the RUN container");
  OutputRelay relay(ctx.log_path, env.log);
  while (!proc.wait_exit(std::chrono::milliseconds(200))) relay.poll(false);
  // The shim writes the exit file once it drained the output; exit_info() gives it a few seconds,
  // which a loaded machine can overrun, and a RUN's status is the build's verdict.
  if (env.containers.exit_file_wait().count() > 0) (void)read_exit_file(ctx.dir + "/" + kExitFile, kExitFileWait);
  ExitInfo exit = env.containers.exit_info(ctx, &proc);
  env.containers.cleanup(ctx);
  relay.poll(true);
  // The empty file the runtime made to mount the resolver on is not the image's.
  struct stat st;
  std::string made = dir + "/upper/etc/resolv.conf";
  if (!ctx.etc_files.empty() && !own_resolv && ::lstat(made.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0)
    ::unlink(made.c_str());
  RunResult out;
  out.exit_code = exit.code ? static_cast<int>(*exit.code) : -1;
  out.reason = exit.reason;
  out.output_tail = relay.tail();
  return out;
}

}  // namespace vessel::daemon::build
