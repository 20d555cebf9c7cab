#include "daemon/policy/usage_counters.h"

#include <unistd.h>

#include <charconv>

#include "base/fd.h"
#include "daemon/policy/cgroups.h"
#include "runtime/cgroups/cgroup.h"

namespace vessel::daemon {

namespace {

std::optional<uint64_t> number_at(std::string_view text) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end == text.data()) return std::nullopt;
  return v;
}

std::optional<uint64_t> psi_file(const std::string& dir, const char* file) {
  auto text = read_file(dir + "/" + file);
  if (!text) return std::nullopt;
  return psi_some_total(*text);
}

// Σ run delay of the threads listed in a v1 `tasks` file, in µs.
std::optional<uint64_t> run_delay_us(const std::string& cpu_dir) {
  auto tasks = read_file(cpu_dir + "/tasks");
  if (!tasks) return std::nullopt;
  uint64_t total_ns = 0;
  std::string_view rest = *tasks;
  while (!rest.empty()) {
    size_t eol = rest.find('\n');
    std::string_view tid = rest.substr(0, eol);
    rest = eol == std::string_view::npos ? std::string_view() : rest.substr(eol + 1);
    if (tid.empty()) continue;
    // A thread that ended meanwhile takes its delay with it: the sum may drop (usage_between
    // then skips the waiting figure for that period).
    if (auto text = read_file("/proc/" + std::string(tid) + "/schedstat"))
      total_ns += schedstat_run_delay(*text).value_or(0);
  }
  return total_ns / 1000;
}

}  // namespace

std::optional<uint64_t> psi_some_total(std::string_view text) {
  if (text.substr(0, 5) != "some ") return std::nullopt;
  std::string_view line = text.substr(0, text.find('\n'));
  size_t at = line.find(" total=");
  if (at == std::string_view::npos) return std::nullopt;
  return number_at(line.substr(at + 7));
}

std::optional<uint64_t> schedstat_run_delay(std::string_view text) {
  size_t space = text.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  return number_at(text.substr(space + 1));
}

MemberCounters read_usage_counters(const std::string& cgroup_path) {
  MemberCounters out;
  out.counters.at = std::chrono::steady_clock::now();
  auto stats = cgroup_stats(cgroup_path);
  if (!stats.found) return out;
  out.found = true;
  out.counters.cpu_ns = stats.cpu_ns;
  out.counters.memory_bytes = stats.memory_bytes;
  auto host = runtime::CgroupHost::detect();
  if (!host) return out;
  auto cg = runtime::Cgroup::plan(*host, cgroup_path);
  if (!cg) return out;
  if (auto unified = cg->dirs().find("unified"); unified != cg->dirs().end() && ::access(unified->second.c_str(), F_OK) == 0) {
    out.counters.cpu_wait_us = psi_file(unified->second, "cpu.pressure");
    out.counters.memory_stall_us = psi_file(unified->second, "memory.pressure");
  }
  if (!out.counters.cpu_wait_us)
    if (std::string cpu = cg->dir_for("cpu"); !cpu.empty() && !cg->is_v2("cpu")) out.counters.cpu_wait_us = run_delay_us(cpu);
  return out;
}

}  // namespace vessel::daemon
