// start, kill, delete, state, pause, resume, update, ps, list, events --stats.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "base/fd.h"
#include "base/log.h"
#include "runtime/cgroups/systemd_scope.h"
#include "runtime/container.h"
#include "runtime/hooks.h"
#include "runtime/linux/sys.h"

namespace vessel::runtime {

namespace {

Result<Spec> saved_spec(const StateStore& store, const std::string& id) {
  auto text = TRY(read_file(store.dir(id) + "/config.json"));
  return parse_spec(text);
}

bool wait_dead(pid_t pid, uint64_t start, std::chrono::milliseconds timeout) {
  int pidfd = sys::pidfd_open(pid);
  if (pidfd >= 0) {
    Fd guard(pidfd);
    if (sys::process_start_time(pid) != start) return true;
    pollfd p{pidfd, POLLIN, 0};
    auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      if (left.count() <= 0) return !sys::process_alive(pid);
      int rc = poll(&p, 1, static_cast<int>(left.count()));
      if (rc > 0) return true;
      if (rc < 0 && errno != EINTR) break;
    }
  }
  for (int i = 0; i < timeout.count(); ++i) {
    if (!sys::process_alive(pid) || sys::process_start_time(pid) != start) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return false;
}

Result<void> signal_init(const ContainerState& s, int signo) {
  int pidfd = sys::pidfd_open(s.pid);
  if (pidfd < 0) return fail_errno("open pidfd of container init {}", s.pid);
  Fd guard(pidfd);
  // The pidfd pins the process: check it is still the one we started, then signal through it.
  if (sys::process_start_time(s.pid) != s.pid_start) return fail(ESRCH, "container init has exited");
  if (sys::pidfd_send_signal(pidfd, signo) != 0) return fail_errno("send signal {} to the container", signo);
  return {};
}

}  // namespace

Result<int> parse_signal(const std::string& text) {
  if (text.empty()) return fail(EINVAL, "empty signal");
  if (isdigit(static_cast<unsigned char>(text[0]))) {
    char* end = nullptr;
    long v = strtol(text.c_str(), &end, 10);
    if (*end || v <= 0 || v >= NSIG) return fail(EINVAL, "invalid signal \"{}\"", text);
    return static_cast<int>(v);
  }
  std::string name = text;
  for (auto& ch : name) ch = static_cast<char>(toupper(static_cast<unsigned char>(ch)));
  if (name.rfind("SIG", 0) == 0) name = name.substr(3);
  for (int i = 1; i < NSIG; ++i) {
    const char* abbrev = sigabbrev_np(i);
    if (abbrev && name == abbrev) return i;
  }
  for (auto [prefix, base, sign] : {std::tuple{"RTMIN+", SIGRTMIN, 1}, std::tuple{"RTMAX-", SIGRTMAX, -1}}) {
    if (name.rfind(prefix, 0) != 0) continue;
    char* end = nullptr;
    long n = strtol(name.c_str() + 6, &end, 10);
    long sig = base + sign * n;
    if (*end || name.size() == 6 || n < 0 || sig < SIGRTMIN || sig > SIGRTMAX) return fail(EINVAL, "invalid signal \"{}\"", text);
    return static_cast<int>(sig);
  }
  return fail(EINVAL, "unknown signal \"{}\" (a name as KILL, TERM, INT, HUP, USR1, or a number)", text);
}

Result<void> destroy(const StateStore& store, const ContainerState& s) {
  auto spec = saved_spec(store, s.id);
  if (!s.cgroup.empty()) (void)s.cgroup.kill_all(SIGKILL);
  if (!s.systemd_unit.empty())
    if (auto r = stop_systemd_scope(s.systemd_unit); !r) log::warn("{}", r.error().to_string());
  if (!s.cgroup.empty()) TRY(s.cgroup.destroy());
  if (spec && !spec->hooks.poststop.empty()) {
    std::string st = oci_state(s, Status::Stopped).dump();
    if (auto r = run_hooks(spec->hooks.poststop, "poststop", st); !r)
      log::warn("{}", r.error().to_string());
  }
  return store.remove(s.id);
}

Result<void> start(const GlobalOptions& g, const std::string& id) {
  StateStore store(g.root);
  ContainerState s = TRY(store.load(id));
  Status st = store.status(s);
  if (st != Status::Created)
    return hinted(fail(EINVAL, "cannot start a container that is {}", status_name(st)), "only a created container can be started");
  std::string fifo = store.fifo(id);
  Fd fd = TRY_CTX(Fd::open(fifo, O_RDONLY | O_NONBLOCK), "open exec fifo");
  pollfd p{fd.get(), POLLIN, 0};
  for (;;) {
    int rc = poll(&p, 1, 100);
    if (rc > 0) {
      char c;
      if (read(fd.get(), &c, 1) == 1) break;
    }
    if (rc < 0 && errno != EINTR) return fail_errno("poll exec fifo");
    if (!sys::process_alive(s.pid)) return fail(ECHILD, "container init exited before start");
  }
  unlink(fifo.c_str());
  auto spec = saved_spec(store, id);
  if (spec && !spec->hooks.poststart.empty())
    TRY(run_hooks(spec->hooks.poststart, "poststart", oci_state(s, Status::Running).dump()));
  return {};
}

Result<void> kill(const GlobalOptions& g, const std::string& id, int signo, bool all) {
  StateStore store(g.root);
  ContainerState s = TRY(store.load(id));
  Status st = store.status(s);
  if (st == Status::Stopped) {
    if (all && !s.has_pidns) return s.cgroup.kill_all(signo);
    return fail(ESRCH, "container \"{}\" is not running", id);
  }
  if (all) {
    TRY(s.cgroup.kill_all(signo));
    (void)signal_init(s, signo);
    return {};
  }
  return signal_init(s, signo);
}

Result<void> remove(const GlobalOptions& g, const std::string& id, bool force) {
  StateStore store(g.root);
  auto loaded = store.load(id);
  if (!loaded) {
    if (force && loaded.error().errnum() == ENOENT) {
      (void)check_id(id).and_then([&]() { return store.remove(id); });
      return {};
    }
    return Unexpected(std::move(loaded).error());
  }
  ContainerState s = std::move(*loaded);
  Status st = store.status(s);
  if (st == Status::Running || st == Status::Paused) {
    if (!force)
      return hinted(fail(EBUSY, "cannot delete container {} that is {}", id, status_name(st)), "stop it first or use --force");
  }
  if (st != Status::Stopped) {
    (void)signal_init(s, SIGKILL);
    (void)s.cgroup.kill_all(SIGKILL);
    if (!wait_dead(s.pid, s.pid_start, std::chrono::milliseconds(10000)))
      return fail(ETIMEDOUT, "container init {} did not exit after SIGKILL", s.pid);
  }
  return destroy(store, s);
}

Result<nlohmann::ordered_json> state(const GlobalOptions& g, const std::string& id) {
  StateStore store(g.root);
  ContainerState s = TRY(store.load(id));
  return oci_state(s, store.status(s));
}

Result<void> pause(const GlobalOptions& g, const std::string& id) {
  StateStore store(g.root);
  ContainerState s = TRY(store.load(id));
  Status st = store.status(s);
  if (st != Status::Running && st != Status::Created)
    return fail(EINVAL, "cannot pause a container that is {}", status_name(st));
  return s.cgroup.set_frozen(true);
}

Result<void> resume(const GlobalOptions& g, const std::string& id) {
  StateStore store(g.root);
  ContainerState s = TRY(store.load(id));
  Status st = store.status(s);
  if (st != Status::Paused) return fail(EINVAL, "cannot resume a container that is {}", status_name(st));
  return s.cgroup.set_frozen(false);
}

Result<void> update(const GlobalOptions& g, const std::string& id, const Resources& r) {
  StateStore store(g.root);
  ContainerState s = TRY(store.load(id));
  if (store.status(s) == Status::Stopped) return fail(EINVAL, "cannot update a stopped container");
  if (!s.systemd_unit.empty()) TRY(update_systemd_scope(s.systemd_unit, r, s.cgroup.layout() == CgroupLayout::V2));
  return s.cgroup.apply(r);
}

Result<std::vector<pid_t>> ps(const GlobalOptions& g, const std::string& id) {
  StateStore store(g.root);
  ContainerState s = TRY(store.load(id));
  return s.cgroup.pids();
}

Result<std::vector<nlohmann::ordered_json>> list(const GlobalOptions& g) {
  StateStore store(g.root);
  std::vector<nlohmann::ordered_json> out;
  for (const auto& id : TRY(store.list())) {
    auto s = store.load(id);
    if (!s) continue;
    auto j = oci_state(*s, store.status(*s));
    out.push_back(std::move(j));
  }
  return out;
}

Result<nlohmann::ordered_json> stats(const GlobalOptions& g, const std::string& id) {
  StateStore store(g.root);
  ContainerState s = TRY(store.load(id));
  nlohmann::ordered_json j;
  j["type"] = "stats";
  j["id"] = id;
  j["data"] = s.cgroup.stats();
  return j;
}

}  // namespace vessel::runtime
