// Prometheus text exposition: daemon request counts and latencies (recorded here), per-instance
// CPU, memory and state (read from the cgroups at scrape time).
#pragma once

#include <array>
#include <chrono>
#include <map>
#include <mutex>
#include <string>

namespace vessel::daemon {

class Manager;

class RequestMetrics {
 public:
  // route: a low-cardinality label ("POST /v1/instances/{name}/start").
  void record(const std::string& route, int status, std::chrono::duration<double> latency);
  std::string render();

 private:
  static constexpr std::array<double, 10> kBuckets{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5};
  struct Histogram {
    std::array<uint64_t, kBuckets.size()> buckets{};
    uint64_t count = 0;
    double sum = 0;
  };
  std::mutex mutex_;
  std::map<std::pair<std::string, int>, uint64_t> counts_;
  std::map<std::string, Histogram> latency_;
};

std::string render_instance_metrics(Manager& manager);

}  // namespace vessel::daemon
