#include "hostcheck/host_check.h"

#include <fcntl.h>
#include <linux/io_uring.h>
#include <linux/userfaultfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "base/cli.h"
#include "base/fd.h"
#include "hostcheck/kvm_assess.h"

namespace vessel::hostcheck {

namespace fs = std::filesystem;

namespace {

bool path_exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string read_trimmed(const std::string& path) {
  auto r = read_file(path);
  return r ? trim(*r) : "";
}

void add(Report& r, Check c) { r.checks.push_back(std::move(c)); }

// Splits text into lines of at most `width` columns at spaces.
std::vector<std::string> wrap(const std::string& text, size_t width) {
  std::vector<std::string> lines;
  std::istringstream words(text);
  std::string word, line;
  while (words >> word) {
    if (!line.empty() && line.size() + 1 + word.size() > width) {
      lines.push_back(line);
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
  }
  if (!line.empty()) lines.push_back(line);
  return lines;
}

// "- text", wrapped, under the verdict.
std::string list_item(const std::string& text) {
  std::string out;
  bool first = true;
  for (const auto& line : wrap(text, 86)) {
    out += (first ? "              - " : "                ") + line + "\n";
    first = false;
  }
  return out;
}

// ---- containers ---------------------------------------------------------------------------

struct CgroupLayout {
  std::string layout;  // "v1", "v2", "hybrid", "none"
  std::vector<std::string> v1_controllers;
  std::string v2_mount;
  std::string v2_controllers;
};

CgroupLayout probe_cgroups() {
  CgroupLayout out;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  std::set<std::string> v1;
  while (std::getline(in, line)) {
    auto dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream pre(line.substr(0, dash)), post(line.substr(dash + 3));
    std::string id, parent, devno, root, mnt, fstype, source, options;
    pre >> id >> parent >> devno >> root >> mnt;
    post >> fstype >> source >> options;
    if (fstype == "cgroup2" && out.v2_mount.empty()) {
      out.v2_mount = mnt;
    } else if (fstype == "cgroup") {
      std::istringstream opts(options);
      std::string o;
      while (std::getline(opts, o, ','))
        if (o != "rw" && o != "ro" && o.rfind("name=", 0) != 0 && o.find('=') == std::string::npos &&
            o != "nosuid" && o != "nodev" && o != "noexec" && o != "relatime" && o != "clone_children")
          v1.insert(o);
    }
  }
  out.v1_controllers.assign(v1.begin(), v1.end());
  if (!out.v2_mount.empty()) out.v2_controllers = read_trimmed(out.v2_mount + "/cgroup.controllers");
  if (!v1.empty() && !out.v2_mount.empty()) out.layout = "hybrid";
  else if (!v1.empty()) out.layout = "v1";
  else if (!out.v2_mount.empty()) out.layout = "v2";
  else out.layout = "none";
  return out;
}

void probe_containers(Report& r) {
  CgroupLayout cg = probe_cgroups();
  std::string ctrls;
  for (const auto& c : cg.v1_controllers) ctrls += (ctrls.empty() ? "" : ",") + c;
  std::string value = cg.layout;
  if (!ctrls.empty()) value += "; v1: " + ctrls;
  if (!cg.v2_mount.empty())
    value += "; v2 at " + cg.v2_mount + ": " + (cg.v2_controllers.empty() ? "(no controllers)" : cg.v2_controllers);
  std::string note;
  if (cg.layout == "hybrid")
    note = "v1 controllers plus a cgroup2 mount; vessel-runtime supports this layout (crun refuses it)";
  add(r, {"containers", "cgroups", value, cg.layout != "none", false, true,
          cg.layout == "none" ? "mount cgroup v2 at /sys/fs/cgroup" : note});

  for (const char* ns : {"mnt", "pid", "uts", "ipc", "net", "user", "cgroup", "time"}) {
    bool have = path_exists(std::string("/proc/self/ns/") + ns);
    bool required = std::string(ns) != "user" && std::string(ns) != "cgroup" && std::string(ns) != "time";
    std::string note;
    if (std::string(ns) == "user" && have) {
      std::string max = read_trimmed("/proc/sys/user/max_user_namespaces");
      if (max == "0") {
        have = false;
        note = "user.max_user_namespaces is 0: rootless containers are off";
      }
    }
    add(r, {"containers", std::string(ns) + " namespace", have ? "yes" : "no", have || !required,
            false, required, have ? note : (note.empty() ? "kernel built without it" : note)});
  }
  std::string filesystems = read_trimmed("/proc/filesystems");
  bool overlay = filesystems.find("\toverlay") != std::string::npos;
  if (!overlay) {
    // Not loaded yet: the module may still be there.
    overlay = !read_trimmed("/sys/module/overlay/initstate").empty();
  }
  add(r, {"containers", "overlayfs", overlay ? "yes" : "no", overlay, false, true,
          overlay ? "" : "modprobe overlay: image layers are shared through overlayfs"});
}

// ---- extras ---------------------------------------------------------------------------------

// KSM: whether ksmd runs, and what it saves (pages_sharing: the pages that point at a shared one,
// so each is a page of memory saved).
Check ksm_probe() {
  std::string run = read_trimmed("/sys/kernel/mm/ksm/run");
  if (run.empty()) return {"extras", "KSM", "not available", true, false, false, ""};
  if (run != "1")
    return {"extras", "KSM", "available, off", true, false, false,
            "echo 1 > /sys/kernel/mm/ksm/run merges identical pages of VMs started with --ksm"};
  uint64_t sharing = std::strtoull(read_trimmed("/sys/kernel/mm/ksm/pages_sharing").c_str(), nullptr, 10);
  uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGE_SIZE));
  return {"extras", "KSM", fmt::format("running, {} pages merged ({} MiB saved)", sharing, sharing * page >> 20), true,
          false, false, ""};
}

void probe_extras(Report& r) {
  struct stat st;
  bool tun = ::stat("/dev/net/tun", &st) == 0 && S_ISCHR(st.st_mode);
  add(r, {"extras", "/dev/net/tun", tun ? "yes" : "no", tun, false, false,
          tun ? "" : "VM networking needs tap devices: modprobe tun"});
  add(r, ksm_probe());
  int uffd = static_cast<int>(::syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK));
  std::string uffd_value = uffd >= 0 ? "yes" : std::string("no (") + std::strerror(errno) + ")";
  if (uffd >= 0) ::close(uffd);
  add(r, {"extras", "userfaultfd", uffd_value, uffd >= 0, false, false,
          uffd >= 0 ? "" : "lazy snapshot restore falls back to reading memory up front"});
  io_uring_params p{};
  int ring = static_cast<int>(::syscall(SYS_io_uring_setup, 4, &p));
  std::string ring_value = ring >= 0 ? "yes" : std::string("no (") + std::strerror(errno) + ")";
  if (ring >= 0) ::close(ring);
  add(r, {"extras", "io_uring", ring_value, ring >= 0, false, false,
          ring >= 0 ? "" : "disk I/O falls back to a thread pool"});
  long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  long pages = ::sysconf(_SC_PHYS_PAGES);
  long page = ::sysconf(_SC_PAGE_SIZE);
  add(r, {"extras", "host capacity",
          fmt::format("{} CPUs, {} MiB memory", cpus, (pages * page) >> 20), true, false, false, ""});
}

}  // namespace

void decide(Report& r) {
  r.vm_problems.clear();
  r.container_problems.clear();
  for (const auto& c : r.checks) {
    if (c.ok) continue;
    std::string why = c.name + ": " + c.value + (c.note.empty() ? "" : " (" + c.note + ")");
    if (c.required_for_vms) r.vm_problems.push_back(why);
    if (c.required_for_containers) r.container_problems.push_back(why);
  }
  r.vms_ok = r.vm_problems.empty();
  r.containers_ok = r.container_problems.empty();
}

Report report_from(const HostFacts& facts) {
  KvmAssessment a = assess_kvm(facts);
  Report r;
  r.cpu = facts.cpu;
  r.checks = std::move(a.checks);
  r.kvm_flavour = a.flavour;
  r.kvm_pvm_state = std::string(to_string(a.pvm));
  r.kvm_pvm_reason = a.pvm_reason;
  r.modules_loadable = a.modules_loadable;
  r.modules_why_not = a.modules_why_not;
  r.vm_advice = std::move(a.advice);
  decide(r);
  return r;
}

Report probe_vms() { return report_from(gather_host_facts()); }

Report probe() {
  Report r = probe_vms();
  probe_containers(r);
  probe_extras(r);
  decide(r);
  return r;
}

nlohmann::json Report::to_json() const {
  nlohmann::json j;
  j["cpu"] = {{"vendor", cpu.vendor},         {"model", cpu.model_name},
              {"vmx", cpu.vmx},               {"svm", cpu.svm},
              {"hypervisor", cpu.hypervisor}, {"hypervisor_vendor", cpu.hypervisor_vendor},
              {"hypervisor_name", cpu.hypervisor ? hypervisor_name(cpu.hypervisor_vendor) : ""}};
  j["kvm_flavour"] = kvm_flavour;
  j["kvm_pvm"] = {{"state", kvm_pvm_state}, {"reason", kvm_pvm_reason}};
  j["kernel_modules"] = {{"loadable", modules_loadable}, {"why_not", modules_why_not}};
  j["vms"] = {{"ok", vms_ok}, {"problems", vm_problems}, {"advice", vm_advice}};
  j["containers"] = {{"ok", containers_ok}, {"problems", container_problems}};
  nlohmann::json checks = nlohmann::json::array();
  for (const auto& c : this->checks)
    checks.push_back({{"section", c.section}, {"name", c.name}, {"value", c.value}, {"ok", c.ok},
                      {"required_for_vms", c.required_for_vms},
                      {"required_for_containers", c.required_for_containers}, {"note", c.note}});
  j["checks"] = checks;
  return j;
}

std::string Report::to_table(bool color) const {
  const char* green = color ? "\033[32m" : "";
  const char* red = color ? "\033[31m" : "";
  const char* yellow = color ? "\033[33m" : "";
  const char* reset = color ? "\033[0m" : "";
  size_t width = 0;
  for (const auto& c : checks) width = std::max(width, c.name.size());
  std::string out;
  std::string section;
  for (const auto& c : checks) {
    if (c.section != section) {
      section = c.section;
      out += "\n" + section + "\n";
    }
    const char* mark = c.ok ? green : (c.required_for_vms || c.required_for_containers) ? red : yellow;
    const char* word = c.ok ? "ok  " : (c.required_for_vms || c.required_for_containers) ? "FAIL" : "warn";
    out += fmt::format("  {}{}{} {:<{}}  {}\n", mark, word, reset, c.name, width, c.value);
    for (const auto& line : wrap(c.note, std::max<size_t>(40, 100 - width - 9)))
      out += fmt::format("       {:<{}}  {}\n", "", width, line);
  }
  out += "\nverdict\n";
  out += fmt::format("  VMs:        {}{}{}\n", vms_ok ? green : red, vms_ok ? "can run" : "cannot run", reset);
  for (const auto& p : vm_problems) out += list_item(p);
  std::string flavour = kvm_flavour;
  if ((kvm_pvm_state == "not bound" || kvm_pvm_state == "unverified") && kvm_flavour == "none")
    flavour += " (kvm_pvm present, " + kvm_pvm_state + ")";
  out += "  KVM:        " + flavour + "\n";
  if (!vm_advice.empty()) out += "  what to do:\n";
  for (const auto& a : vm_advice) out += list_item(a);
  out += fmt::format("  containers: {}{}{}\n", containers_ok ? green : red,
                     containers_ok ? "can run" : "cannot run", reset);
  for (const auto& p : container_problems) out += list_item(p);
  return out;
}

int run(const Options& options) {
  Report r = probe();
  if (options.json) {
    std::printf("%s\n", r.to_json().dump(2).c_str());
  } else {
    std::string t = r.to_table(cli::stdout_is_tty());
    std::fwrite(t.data(), 1, t.size(), stdout);
  }
  return r.vms_ok && r.containers_ok ? 0 : 1;
}

}  // namespace vessel::hostcheck
