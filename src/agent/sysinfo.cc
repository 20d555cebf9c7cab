// health, stats and shutdown: read from /proc and statfs(2); poweroff as /init does it
// (`sync; poweroff -f`: busybox syncs and calls reboot(RB_POWER_OFF)).
#include <sys/reboot.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "agent/handlers.h"

namespace vessel::agent {
namespace {

// Pseudo file systems say nothing about the guest's space.
bool interesting(const std::string& type) {
  for (const char* skip : {"proc", "sysfs", "devpts", "cgroup", "cgroup2", "securityfs", "debugfs", "tracefs",
                           "mqueue", "pstore", "bpf", "configfs", "fusectl", "hugetlbfs", "autofs", "binfmt_misc"})
    if (type == skip) return false;
  return true;
}

}  // namespace

double read_uptime(const char* uptime_file) {
  std::ifstream f(uptime_file);
  double up = 0;
  f >> up;
  return up;
}

Stats read_stats(const char* meminfo, const char* loadavg, const char* mounts) {
  Stats s;
  std::ifstream mem(meminfo);
  std::string key;
  uint64_t value = 0;
  std::string unit;
  std::string line;
  while (std::getline(mem, line)) {
    std::istringstream in(line);
    if (!(in >> key >> value)) continue;
    if (key == "MemTotal:") s.mem_total_kb = value;
    if (key == "MemFree:") s.mem_free_kb = value;
    if (key == "MemAvailable:") s.mem_available_kb = value;
  }
  std::ifstream load(loadavg);
  load >> s.load[0] >> s.load[1] >> s.load[2];
  std::ifstream mnt(mounts);
  while (std::getline(mnt, line) && s.filesystems.size() < kMaxFilesystems) {
    std::istringstream in(line);
    std::string dev, path, type;
    if (!(in >> dev >> path >> type) || !interesting(type)) continue;
    struct statfs st {};
    if (::statfs(path.c_str(), &st) != 0 || st.f_blocks == 0) continue;
    uint64_t bs = uint64_t(st.f_frsize ? st.f_frsize : st.f_bsize);
    s.filesystems.push_back({path, st.f_blocks * bs, st.f_bfree * bs, st.f_bavail * bs});
  }
  return s;
}

void run_health(Channel& ch) {
  ch.send_control(ok_reply({{"uptime_s", read_uptime("/proc/uptime")}, {"version", "vessel-agent 1"}}));
}

void run_stats(Channel& ch) {
  ch.send_control(ok_reply(to_json(read_stats("/proc/meminfo", "/proc/loadavg", "/proc/mounts"))));
}

void run_shutdown(Channel& ch) {
  ch.send_control(ok_reply());
  ::close(ch.fd());
  std::fprintf(stderr, "vessel-agent: shutdown requested: powering off\n");
  ::sync();
  ::reboot(RB_POWER_OFF);
  ::_exit(1);  // not reached unless reboot(2) failed
}

}  // namespace vessel::agent
