#include "runtime/cli/process_table.h"

#include <time.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <sstream>

#include "base/fd.h"
#include "base/json.h"

namespace vessel::runtime::cli {

namespace {

struct Row {
  uid_t uid = 0;
  pid_t pid = 0, ppid = 0;
  int tty_nr = 0;
  double cpu_s = 0, age_s = 0;
  time_t started = 0;
  std::string cmd;
};

// uid -> name from the host's /etc/passwd (ps does the same through NSS); numeric when absent.
std::map<uid_t, std::string> user_names() {
  std::map<uid_t, std::string> out;
  std::ifstream in("/etc/passwd");
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::string name, pw, uid;
    if (std::getline(fields, name, ':') && std::getline(fields, pw, ':') && std::getline(fields, uid, ':'))
      out.emplace(static_cast<uid_t>(std::strtoul(uid.c_str(), nullptr, 10)), name);
  }
  return out;
}

std::string tty_name(int tty_nr) {
  unsigned major = (static_cast<unsigned>(tty_nr) >> 8) & 0xfff;
  unsigned minor = (static_cast<unsigned>(tty_nr) & 0xff) | ((static_cast<unsigned>(tty_nr) >> 12) & 0xfff00);
  if (tty_nr == 0) return "?";
  if (major >= 136 && major <= 143) return fmt::format("pts/{}", (major - 136) * 256 + minor);
  if (major == 4 && minor < 64) return fmt::format("tty{}", minor);
  if (major == 4) return fmt::format("ttyS{}", minor - 64);
  return "?";
}

// /proc/PID/stat after the command's closing parenthesis: state ppid pgrp session tty_nr ...
bool read_row(pid_t pid, double boot_s, long hz, Row& r) {
  auto stat = read_file(fmt::format("/proc/{}/stat", pid));
  auto status = read_file(fmt::format("/proc/{}/status", pid));
  if (!stat || !status) return false;
  auto close = stat->rfind(')');
  if (close == std::string::npos) return false;
  std::string comm = stat->substr(stat->find('(') + 1, close - stat->find('(') - 1);
  std::istringstream f(stat->substr(close + 2));
  std::vector<std::string> v;
  for (std::string w; f >> w;) v.push_back(w);
  if (v.size() < 20) return false;
  r.pid = pid;
  r.ppid = std::stoi(v[1]);
  r.tty_nr = std::stoi(v[4]);
  r.cpu_s = static_cast<double>(std::stoull(v[11]) + std::stoull(v[12])) / static_cast<double>(hz);
  double start_s = static_cast<double>(std::stoull(v[19])) / static_cast<double>(hz);
  r.age_s = boot_s - start_s;
  r.started = time(nullptr) - static_cast<time_t>(r.age_s);
  auto uid = status->find("\nUid:");
  if (uid != std::string::npos) r.uid = static_cast<uid_t>(std::strtoul(status->c_str() + uid + 5, nullptr, 10));
  std::string cmdline = read_file(fmt::format("/proc/{}/cmdline", pid)).value_or("");
  while (!cmdline.empty() && cmdline.back() == '\0') cmdline.pop_back();
  for (char& c : cmdline)
    if (c == '\0') c = ' ';
  r.cmd = cmdline.empty() ? "[" + comm + "]" : cmdline;
  return true;
}

// ps's STIME: the time today, the month and day this year, else the year.
std::string start_time(time_t started) {
  time_t now = time(nullptr);
  struct tm s, n;
  localtime_r(&started, &s);
  localtime_r(&now, &n);
  char buf[16];
  const char* format = s.tm_year != n.tm_year ? "%Y" : s.tm_yday != n.tm_yday ? "%b%d" : "%H:%M";
  strftime(buf, sizeof buf, format, &s);
  return buf;
}

std::string cpu_time(double seconds) {
  auto t = static_cast<long>(seconds);
  std::string days = t >= 86400 ? fmt::format("{}-", t / 86400) : "";
  return fmt::format("{}{:02}:{:02}:{:02}", days, t % 86400 / 3600, t % 3600 / 60, t % 60);
}

}  // namespace

std::string process_table(const std::vector<pid_t>& pids) {
  double boot_s = 0;
  if (auto up = read_file("/proc/uptime")) boot_s = std::strtod(up->c_str(), nullptr);
  long hz = sysconf(_SC_CLK_TCK);
  auto names = user_names();
  std::string out = fmt::format("{:<8} {:>7} {:>7} {:>2} {:<5} {:<8} {:>8} {}\n", "UID", "PID", "PPID", "C", "STIME",
                                "TTY", "TIME", "CMD");
  for (pid_t pid : pids) {
    Row r;
    if (!read_row(pid, boot_s, hz, r)) continue;
    auto name = names.find(r.uid);
    int c = r.age_s > 0 ? static_cast<int>(std::min(99.0, r.cpu_s * 100 / r.age_s)) : 0;
    out += fmt::format("{:<8} {:>7} {:>7} {:>2} {:<5} {:<8} {:>8} {}\n",
                       name != names.end() ? name->second : std::to_string(r.uid), r.pid, r.ppid, c,
                       start_time(r.started), tty_name(r.tty_nr), cpu_time(r.cpu_s), r.cmd);
  }
  return out;
}

}  // namespace vessel::runtime::cli
