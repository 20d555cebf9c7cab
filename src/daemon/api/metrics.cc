#include "daemon/api/metrics.h"

#include <fmt/format.h>

#include "daemon/instances/manager.h"
#include "daemon/policy/cgroups.h"

namespace vessel::daemon {

namespace {

std::string escape(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') { out += "\\n"; continue; }
    out += c;
  }
  return out;
}

}  // namespace

void RequestMetrics::record(const std::string& route, int status, std::chrono::duration<double> latency) {
  std::lock_guard lock(mutex_);
  counts_[{route, status}]++;
  auto& h = latency_[route];
  for (size_t i = 0; i < kBuckets.size(); ++i)
    if (latency.count() <= kBuckets[i]) h.buckets[i]++;
  h.count++;
  h.sum += latency.count();
}

std::string RequestMetrics::render() {
  std::lock_guard lock(mutex_);
  std::string out;
  out += "# HELP vessel_api_requests_total API requests by route and status.\n# TYPE vessel_api_requests_total counter\n";
  for (const auto& [key, n] : counts_)
    out += fmt::format("vessel_api_requests_total{{route=\"{}\",status=\"{}\"}} {}\n", escape(key.first), key.second, n);
  out += "# HELP vessel_api_request_seconds API request latency.\n# TYPE vessel_api_request_seconds histogram\n";
  for (const auto& [route, h] : latency_) {
    for (size_t i = 0; i < kBuckets.size(); ++i)
      out += fmt::format("vessel_api_request_seconds_bucket{{route=\"{}\",le=\"{}\"}} {}\n", escape(route), kBuckets[i], h.buckets[i]);
    out += fmt::format("vessel_api_request_seconds_bucket{{route=\"{}\",le=\"+Inf\"}} {}\n", escape(route), h.count);
    out += fmt::format("vessel_api_request_seconds_sum{{route=\"{}\"}} {}\n", escape(route), h.sum);
    out += fmt::format("vessel_api_request_seconds_count{{route=\"{}\"}} {}\n", escape(route), h.count);
  }
  return out;
}

std::string render_instance_metrics(Manager& manager) {
  auto rows = manager.rows();
  if (!rows) return "# instances unavailable: " + rows.error().to_string() + "\n";
  std::string out;
  out += "# HELP vessel_instance_state 1 for the instance's current state.\n# TYPE vessel_instance_state gauge\n";
  for (const auto& r : *rows)
    for (const char* s : {"created", "running", "paused", "stopped"})
      out += fmt::format("vessel_instance_state{{name=\"{}\",type=\"{}\",state=\"{}\"}} {}\n", r.name, r.type, s, r.state == s ? 1 : 0);
  out += "# HELP vessel_instance_cpu_seconds_total CPU time used by the instance's cgroup.\n# TYPE vessel_instance_cpu_seconds_total counter\n";
  std::string mem = "# HELP vessel_instance_memory_bytes Memory used by the instance's cgroup.\n# TYPE vessel_instance_memory_bytes gauge\n";
  for (const auto& r : *rows) {
    auto s = cgroup_stats(manager.cgroup_of(r.name));
    out += fmt::format("vessel_instance_cpu_seconds_total{{name=\"{}\",type=\"{}\"}} {}\n", r.name, r.type, static_cast<double>(s.cpu_ns) / 1e9);
    mem += fmt::format("vessel_instance_memory_bytes{{name=\"{}\",type=\"{}\"}} {}\n", r.name, r.type, s.memory_bytes);
  }
  out += mem;
  out += fmt::format("# HELP vessel_instances Instances known to vesseld.\n# TYPE vessel_instances gauge\nvessel_instances {}\n", rows->size());
  return out;
}

}  // namespace vessel::daemon
