#include "runtime/cgroups/cgroup.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <set>
#include <sstream>
#include <thread>

#include "base/fd.h"
#include "base/log.h"
#include "runtime/cgroups/device_filter.h"
#include "runtime/cgroups/hurry_exit.h"
#include "runtime/cgroups/weights.h"

namespace vessel::runtime {

namespace {

const std::set<std::string> kV1Controllers = {"cpu",     "cpuacct", "cpuset",  "memory",
                                              "devices", "freezer", "net_cls", "net_prio",
                                              "blkio",   "perf_event", "hugetlb", "pids",
                                              "rdma",    "misc"};

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  std::istringstream in(s);
  while (std::getline(in, cur, sep))
    if (!cur.empty()) out.push_back(cur);
  return out;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string join_path(const std::string& a, const std::string& b) {
  std::string out = a;
  for (const auto& part : split(b, '/')) {
    if (part == ".") continue;
    out += "/" + part;
  }
  return out;
}

Result<void> write_value(const std::string& dir, const std::string& file, const std::string& value) {
  std::string path = dir + "/" + file;
  auto fd = Fd::open(path, O_WRONLY | O_TRUNC);
  if (!fd) return Unexpected(std::move(fd).error().add_context(fmt::format("set {} to \"{}\"", file, value)));
  if (::write(fd->get(), value.data(), value.size()) < 0)
    return fail_errno("write \"{}\" to {}", value, path);
  return {};
}

std::string read_value(const std::string& path) {
  auto r = read_file(path);
  return r ? trim(*r) : std::string();
}

bool exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

std::string num(int64_t v) { return std::to_string(v); }

}  // namespace

const char* layout_name(CgroupLayout layout) {
  switch (layout) {
    case CgroupLayout::V1: return "v1";
    case CgroupLayout::Hybrid: return "hybrid";
    case CgroupLayout::V2: return "v2";
  }
  return "?";
}

Result<CgroupHost> CgroupHost::detect() {
  auto text = TRY_CTX(read_file("/proc/self/mountinfo"), "find cgroup mounts");
  CgroupHost host;
  std::set<std::string> seen;
  bool v1 = false, v2 = false;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    auto dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    auto left = split(line.substr(0, dash), ' ');
    auto right = split(line.substr(dash + 3), ' ');
    if (left.size() < 5 || right.size() < 3) continue;
    const std::string& mountpoint = left[4];
    if (mountpoint.find('\\') != std::string::npos) continue;
    Hierarchy h;
    h.mountpoint = mountpoint;
    if (right[0] == "cgroup") {
      std::vector<std::string> names;
      for (const auto& opt : split(right[2], ','))
        if (kV1Controllers.count(opt) || opt.rfind("name=", 0) == 0) names.push_back(opt);
      if (names.empty()) continue;
      h.controllers = names;
      for (size_t i = 0; i < names.size(); ++i) h.name += (i ? "," : "") + names[i];
      v1 = true;
    } else if (right[0] == "cgroup2") {
      h.v2 = true;
      h.name = "unified";
      h.controllers = split(read_value(mountpoint + "/cgroup.controllers"), ' ');
      v2 = true;
    } else {
      continue;
    }
    if (!seen.insert(h.name).second) continue;
    host.hierarchies.push_back(std::move(h));
  }
  if (!v1 && !v2) return fail(ENOENT, "no cgroup file system is mounted");
  host.layout = v1 ? (v2 ? CgroupLayout::Hybrid : CgroupLayout::V1) : CgroupLayout::V2;
  return host;
}

Result<Cgroup> Cgroup::plan(const CgroupHost& host, const std::string& cgroups_path,
                            const std::vector<std::string>& controllers) {
  Cgroup cg;
  cg.layout_ = host.layout;
  bool relative = cgroups_path.empty() || cgroups_path[0] != '/';
  std::map<std::string, std::string> own;  // hierarchy key -> own path
  if (relative) {
    auto text = TRY_CTX(read_file("/proc/self/cgroup"), "find the runtime's own cgroup");
    for (const auto& line : split(text, '\n')) {
      auto a = line.find(':');
      auto b = line.find(':', a + 1);
      if (a == std::string::npos || b == std::string::npos) continue;
      std::string ctrls = line.substr(a + 1, b - a - 1);
      own[ctrls.empty() ? "unified" : ctrls] = line.substr(b + 1);
    }
  }
  auto wanted = [&](const Hierarchy& h) {
    if (controllers.empty() || (h.v2 && host.layout == CgroupLayout::V2)) return true;
    for (const auto& c : controllers)
      if (std::find(h.controllers.begin(), h.controllers.end(), c) != h.controllers.end()) return true;
    return false;
  };
  for (const auto& h : host.hierarchies) {
    if (!wanted(h)) continue;
    std::string base = h.mountpoint;
    if (relative) {
      auto it = own.find(h.name);
      if (it != own.end()) base = join_path(base, it->second);
    }
    cg.dirs_[h.name] = join_path(base, cgroups_path);
    cg.controllers_[h.name] = h.controllers;
    cg.roots_[h.name] = h.mountpoint;
  }
  return cg;
}

Cgroup Cgroup::from_json(const json::Json& j) {
  Cgroup cg;
  if (!j.is_object()) return cg;
  std::string layout = j.value("layout", "v1");
  cg.layout_ = layout == "v2" ? CgroupLayout::V2 : layout == "hybrid" ? CgroupLayout::Hybrid : CgroupLayout::V1;
  if (j.contains("dirs") && j["dirs"].is_object())
    for (auto it = j["dirs"].begin(); it != j["dirs"].end(); ++it)
      if (it.value().is_string()) cg.dirs_[it.key()] = it.value().get<std::string>();
  if (j.contains("controllers") && j["controllers"].is_object())
    for (auto it = j["controllers"].begin(); it != j["controllers"].end(); ++it)
      if (it.value().is_array())
        for (const auto& c : it.value())
          if (c.is_string()) cg.controllers_[it.key()].push_back(c.get<std::string>());
  return cg;
}

json::Json Cgroup::to_json() const {
  json::Json j;
  j["layout"] = layout_name(layout_);
  j["dirs"] = dirs_;
  j["controllers"] = controllers_;
  return j;
}

std::string Cgroup::dir_for(const std::string& controller) const {
  for (const auto& [name, ctrls] : controllers_)
    if (std::find(ctrls.begin(), ctrls.end(), controller) != ctrls.end()) {
      auto it = dirs_.find(name);
      if (it != dirs_.end()) return it->second;
    }
  return {};
}

std::string Cgroup::unified_dir() const {
  auto it = dirs_.find("unified");
  return it == dirs_.end() ? std::string() : it->second;
}

Result<void> Cgroup::create() {
  for (const auto& [name, dir] : dirs_) {
    // Find the hierarchy root: the longest mountpoint prefix is the part before the path.
    std::vector<std::string> parts;
    std::string cur = dir;
    while (!exists(cur)) {
      auto slash = cur.rfind('/');
      if (slash == 0 || slash == std::string::npos) break;
      parts.push_back(cur.substr(slash + 1));
      cur = cur.substr(0, slash);
    }
    bool v2 = name == "unified";
    bool cpuset = !v2 && name.find("cpuset") != std::string::npos;
    for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
      std::string parent = cur;
      if (v2) {
        // Let the new child use every controller its parent has.
        for (const auto& c : split(read_value(parent + "/cgroup.controllers"), ' '))
          (void)write_value(parent, "cgroup.subtree_control", "+" + c);
      }
      cur += "/" + *it;
      if (mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST) return fail_errno("create cgroup {}", cur);
      created_.push_back(cur);
      if (cpuset) {
        for (const char* f : {"cpuset.cpus", "cpuset.mems"})
          if (read_value(cur + "/" + f).empty())
            (void)write_value(cur, f, read_value(parent + "/" + f));
      }
    }
  }
  return {};
}

Result<void> Cgroup::enable_controllers(const std::vector<std::string>& controllers) const {
  auto dir_it = dirs_.find("unified");
  auto root_it = roots_.find("unified");
  if (dir_it == dirs_.end() || root_it == roots_.end()) return {};
  std::string dir = root_it->second;
  std::string path = dir_it->second.substr(dir.size());  // "/parent/name"
  for (size_t pos = 1; pos < path.size();) {
    std::string words = " " + read_value(dir + "/cgroup.subtree_control") + " ";
    std::replace(words.begin(), words.end(), '\n', ' ');
    for (const auto& c : controllers) {
      if (words.find(" " + c + " ") != std::string::npos) continue;
      TRY_CTX(write_value(dir, "cgroup.subtree_control", "+" + c), "enable the {} controller for {}", c, path);
    }
    size_t next = path.find('/', pos);
    if (next == std::string::npos) break;  // the group itself: its children are not ours to plan
    dir += "/" + path.substr(pos, next - pos);
    pos = next + 1;
  }
  return {};
}

Result<void> Cgroup::write(const std::string& controller, const std::string& file, const std::string& value) const {
  std::string dir = dir_for(controller);
  if (dir.empty()) return fail(ENOTSUP, "cgroup controller \"{}\" is not available on this host", controller);
  return write_value(dir, file, value);
}

Result<void> Cgroup::add_process(pid_t pid) const {
  std::string p = std::to_string(pid);
  for (const auto& [name, dir] : dirs_) TRY_CTX(write_value(dir, "cgroup.procs", p), "join cgroup {}", dir);
  return {};
}

Result<void> Cgroup::apply(const Resources& r) const {
  // Writes to whichever hierarchy owns `controller`, in its own file naming.
  auto set = [&](const char* controller, const std::string& v1file, const std::string& v2file,
                 const std::string& v1value, const std::string& v2value) -> Result<void> {
    std::string dir = dir_for(controller);
    if (dir.empty())
      return fail(ENOTSUP, "cgroup controller \"{}\" is not available on this host", controller);
    bool v2 = dir == unified_dir();
    const std::string& file = v2 ? v2file : v1file;
    if (file.empty()) return fail(ENOTSUP, "{} is not supported on cgroup {}", v1file.empty() ? v2file : v1file, v2 ? "v2" : "v1");
    return write_value(dir, file, v2 ? v2value : v1value);
  };
  auto is_v2 = [&](const char* controller) { return dir_for(controller) == unified_dir(); };
  if (r.memory) {
    const auto& m = *r.memory;
    auto max_or = [](int64_t v) { return v < 0 ? std::string("max") : num(v); };
    if (m.reservation) TRY(set("memory", "memory.soft_limit_in_bytes", "memory.low", num(*m.reservation), max_or(*m.reservation)));
    if (is_v2("memory")) {
      if (m.limit) TRY(set("memory", "", "memory.max", "", max_or(*m.limit)));
      if (m.swap) {
        int64_t swap = *m.swap;
        if (swap > 0 && m.limit && *m.limit > 0) swap -= *m.limit;  // v2 counts swap alone
        TRY(set("memory", "", "memory.swap.max", "", max_or(swap)));
      }
    } else {
      std::string dir = dir_for("memory");
      bool memsw = !dir.empty() && exists(dir + "/memory.memsw.limit_in_bytes");
      if (m.limit && m.swap && memsw) {
        // The kernel wants limit <= memsw at every step: try one order, then the other.
        auto first = set("memory", "memory.limit_in_bytes", "", num(*m.limit), "");
        TRY(set("memory", "memory.memsw.limit_in_bytes", "", num(*m.swap), ""));
        if (!first) TRY(set("memory", "memory.limit_in_bytes", "", num(*m.limit), ""));
      } else {
        if (m.limit) TRY(set("memory", "memory.limit_in_bytes", "", num(*m.limit), ""));
        if (m.swap && memsw) TRY(set("memory", "memory.memsw.limit_in_bytes", "", num(*m.swap), ""));
      }
      if (m.swappiness) TRY(set("memory", "memory.swappiness", "", num(static_cast<int64_t>(*m.swappiness)), ""));
      if (m.disable_oom_killer && *m.disable_oom_killer) TRY(set("memory", "memory.oom_control", "", "1", ""));
      if (m.kernel_tcp && *m.kernel_tcp != 0)
        TRY(set("memory", "memory.kmem.tcp.limit_in_bytes", "", num(*m.kernel_tcp), ""));
    }
  }
  if (r.cpu) {
    const auto& c = *r.cpu;
    if (c.shares && *c.shares) {
      uint64_t weight = cpu_shares_to_weight(*c.shares);
      TRY(set("cpu", "cpu.shares", "cpu.weight", num(static_cast<int64_t>(*c.shares)), num(static_cast<int64_t>(weight))));
    }
    if (is_v2("cpu")) {
      if (c.quota || c.period) {
        std::string q = c.quota && *c.quota > 0 ? num(*c.quota) : "max";
        TRY(set("cpu", "", "cpu.max", "", q + " " + num(static_cast<int64_t>(c.period.value_or(100000)))));
      }
      if (c.idle) TRY(set("cpu", "", "cpu.idle", "", num(*c.idle)));
    } else {
      if (c.period) TRY(set("cpu", "cpu.cfs_period_us", "", num(static_cast<int64_t>(*c.period)), ""));
      if (c.quota) TRY(set("cpu", "cpu.cfs_quota_us", "", num(*c.quota), ""));
      if (c.burst) TRY(set("cpu", "cpu.cfs_burst_us", "", num(static_cast<int64_t>(*c.burst)), ""));
      if (c.realtime_period) TRY(set("cpu", "cpu.rt_period_us", "", num(static_cast<int64_t>(*c.realtime_period)), ""));
      if (c.realtime_runtime) TRY(set("cpu", "cpu.rt_runtime_us", "", num(*c.realtime_runtime), ""));
      if (c.idle) TRY(set("cpu", "cpu.idle", "", num(*c.idle), ""));
    }
    if (!c.cpus.empty()) TRY(set("cpuset", "cpuset.cpus", "cpuset.cpus", c.cpus, c.cpus));
    if (!c.mems.empty()) TRY(set("cpuset", "cpuset.mems", "cpuset.mems", c.mems, c.mems));
  }
  if (r.pids_limit) {
    std::string v = *r.pids_limit <= 0 ? "max" : num(*r.pids_limit);
    TRY(set("pids", "pids.max", "pids.max", v, v));
  }
  if (r.block_io) {
    const auto& b = *r.block_io;
    auto io_weight = [](uint64_t w) { return num(static_cast<int64_t>(blkio_weight_to_io_weight(w))); };
    if (b.weight && *b.weight) TRY(set("blkio", "blkio.weight", "io.weight", num(*b.weight), "default " + io_weight(*b.weight)));
    if (b.leaf_weight) TRY(set("blkio", "blkio.leaf_weight", "", num(*b.leaf_weight), ""));
    for (const auto& d : b.weight_device) {
      std::string dev = fmt::format("{}:{}", d.major, d.minor);
      if (d.weight) TRY(set("blkio", "blkio.weight_device", "io.weight", dev + " " + num(*d.weight), dev + " " + io_weight(*d.weight)));
      if (d.leaf_weight) TRY(set("blkio", "blkio.leaf_weight_device", "", dev + " " + num(*d.leaf_weight), ""));
    }
    auto throttle = [&](const std::vector<BlockIoDevice>& list, const char* v1file, const char* key) -> Result<void> {
      for (const auto& d : list) {
        std::string dev = fmt::format("{}:{}", d.major, d.minor);
        TRY(set("blkio", v1file, "io.max", dev + " " + num(static_cast<int64_t>(d.rate)),
                fmt::format("{} {}={}", dev, key, d.rate)));
      }
      return {};
    };
    TRY(throttle(b.throttle_read_bps, "blkio.throttle.read_bps_device", "rbps"));
    TRY(throttle(b.throttle_write_bps, "blkio.throttle.write_bps_device", "wbps"));
    TRY(throttle(b.throttle_read_iops, "blkio.throttle.read_iops_device", "riops"));
    TRY(throttle(b.throttle_write_iops, "blkio.throttle.write_iops_device", "wiops"));
  }
  for (const auto& h : r.hugepage_limits)
    TRY(set("hugetlb", fmt::format("hugetlb.{}.limit_in_bytes", h.page_size), fmt::format("hugetlb.{}.max", h.page_size),
            num(static_cast<int64_t>(h.limit)), num(static_cast<int64_t>(h.limit))));
  if (r.net_cls_classid) TRY(set("net_cls", "net_cls.classid", "", num(*r.net_cls_classid), ""));
  for (const auto& [iface, prio] : r.net_prio)
    TRY(set("net_prio", "net_prio.ifpriomap", "", fmt::format("{} {}", iface, prio), ""));
  if (!r.devices.empty()) TRY(apply_devices(r.devices));
  if (!r.unified.empty()) {
    std::string dir = unified_dir();
    if (dir.empty()) return fail(ENOTSUP, "linux.resources.unified needs a cgroup v2 hierarchy");
    for (const auto& [key, value] : r.unified) TRY(write_value(dir, key, value));
  }
  return {};
}

Result<void> Cgroup::apply_devices(const std::vector<DeviceRule>& rules) const {
  std::string dir = dir_for("devices");
  if (!dir.empty() && dir != unified_dir()) {
    for (const auto& d : rules) {
      std::string rule = fmt::format("{} {}:{} {}", d.type, d.major ? num(*d.major) : "*",
                                     d.minor ? num(*d.minor) : "*", d.access);
      TRY(write_value(dir, d.allow ? "devices.allow" : "devices.deny", rule));
    }
    return {};
  }
  // cgroup v2 has no devices files: the rules become an eBPF program on the group.
  if (unified_dir().empty())
    return fail(ENOTSUP, "linux.resources.devices: no devices controller (v1) and no cgroup v2 hierarchy");
  auto program = TRY(device_filter_program(rules));
  Fd loaded = TRY(load_device_filter(program));
  return attach_device_filter(unified_dir(), loaded);
}

bool Cgroup::has_freezer() const { return !dir_for("freezer").empty() || !unified_dir().empty(); }

std::string Cgroup::freezer_dir() const {
  std::string v1 = dir_for("freezer");
  return !v1.empty() && v1 != unified_dir() ? v1 : unified_dir();
}

Result<void> Cgroup::set_frozen(bool frozen) const {
  std::string v1 = dir_for("freezer");
  if (!v1.empty() && v1 != unified_dir()) {
    TRY(write_value(v1, "freezer.state", frozen ? "FROZEN" : "THAWED"));
    for (int i = 0; i < 2000; ++i) {
      std::string s = read_value(v1 + "/freezer.state");
      if (s == (frozen ? "FROZEN" : "THAWED")) return {};
      if (frozen && i % 50 == 49) (void)write_value(v1, "freezer.state", "FROZEN");
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
    return fail(ETIMEDOUT, "cgroup freezer did not reach {} state", frozen ? "FROZEN" : "THAWED");
  }
  std::string u = unified_dir();
  if (u.empty()) return fail(ENOTSUP, "no freezer: neither a v1 freezer nor a cgroup v2 hierarchy");
  TRY(write_value(u, "cgroup.freeze", frozen ? "1" : "0"));
  for (int i = 0; i < 2000; ++i) {
    auto ev = read_value(u + "/cgroup.events");
    if (ev.find(frozen ? "frozen 1" : "frozen 0") != std::string::npos) return {};
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  return fail(ETIMEDOUT, "cgroup.freeze did not take effect");
}

Result<bool> Cgroup::frozen() const {
  std::string v1 = dir_for("freezer");
  if (!v1.empty() && v1 != unified_dir()) return read_value(v1 + "/freezer.state") == "FROZEN";
  std::string u = unified_dir();
  if (u.empty()) return false;
  return read_value(u + "/cgroup.freeze") == "1";
}

Result<std::vector<pid_t>> Cgroup::pids() const {
  std::vector<pid_t> out;
  std::string dir;
  for (const char* c : {"pids", "freezer", "memory", "cpu"}) {
    dir = dir_for(c);
    if (!dir.empty()) break;
  }
  if (dir.empty()) dir = unified_dir();
  if (dir.empty() && !dirs_.empty()) dir = dirs_.begin()->second;
  if (dir.empty()) return out;
  auto text = read_file(dir + "/cgroup.procs");
  if (!text) {
    if (text.error().errnum() == ENOENT) return out;
    return Unexpected(std::move(text).error());
  }
  for (const auto& line : split(*text, '\n')) out.push_back(static_cast<pid_t>(std::stol(line)));
  return out;
}

Result<void> Cgroup::kill_all(int signo) const {
  if (signo != SIGKILL) {
    for (pid_t p : TRY(pids())) ::kill(p, signo);
    return {};
  }
  (void)kill_and_hurry(*this);  // squeezed or throttled, the dying would wait for the CPU
  if (frozen().value_or(false)) (void)set_frozen(false);
  for (int i = 0; i < 5000; ++i) {
    auto list = TRY(pids());
    if (list.empty()) return {};
    for (pid_t p : list) ::kill(p, SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return fail(ETIMEDOUT, "processes of the container did not die");
}

Result<void> Cgroup::destroy(bool wait_while_busy) const {
  Result<void> first;  // without waiting: every directory is tried, the first failure returned
  for (const auto& [name, dir] : dirs_) {
    for (int i = 0;; ++i) {
      if (rmdir(dir.c_str()) == 0 || errno == ENOENT) break;
      if (!wait_while_busy) {
        if (first) first = fail_errno("remove cgroup {}", dir);
        break;
      }
      if (errno != EBUSY || i >= 500) return fail_errno("remove cgroup {}", dir);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  return first;
}

json::Json Cgroup::stats() const {
  json::Json data = json::Json::object();
  auto read_num = [](const std::string& path) -> uint64_t {
    std::string v = read_value(path);
    return v.empty() || v == "max" ? 0 : std::stoull(v);
  };
  std::string cpu = dir_for("cpuacct");
  if (!cpu.empty() && cpu != unified_dir()) {
    data["cpu"]["usage"]["total"] = read_num(cpu + "/cpuacct.usage");
  } else if (!unified_dir().empty()) {
    for (const auto& line : split(read_value(unified_dir() + "/cpu.stat"), '\n'))
      if (line.rfind("usage_usec ", 0) == 0) data["cpu"]["usage"]["total"] = std::stoull(line.substr(11)) * 1000;
  }
  std::string mem = dir_for("memory");
  if (!mem.empty()) {
    bool v2 = mem == unified_dir();
    data["memory"]["usage"]["usage"] = read_num(mem + (v2 ? "/memory.current" : "/memory.usage_in_bytes"));
    data["memory"]["usage"]["limit"] = read_num(mem + (v2 ? "/memory.max" : "/memory.limit_in_bytes"));
    if (!v2) data["memory"]["usage"]["max"] = read_num(mem + "/memory.max_usage_in_bytes");
  }
  std::string pids = dir_for("pids");
  if (!pids.empty()) {
    data["pids"]["current"] = read_num(pids + "/pids.current");
    data["pids"]["limit"] = read_num(pids + "/pids.max");
  }
  return data;
}

}  // namespace vessel::runtime
