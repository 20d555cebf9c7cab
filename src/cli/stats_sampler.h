// `vessel stats`: samples GET /v1/instances/NAME/stats of the instances named (or of every
// running and paused one, as they come and go) and turns the CPU time between two samples into
// a percentage; stats_table() is what a person sees.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "base/json.h"
#include "cli/client.h"

namespace vessel::cli {

class StatsSampler {
 public:
  StatsSampler(Client& client, std::vector<std::string> names)
      : client_(client), names_(std::move(names)), named_(!names_.empty()) {}

  // One row per instance: its stats and "cpu_percent" since the last sample (0 at the first).
  // An instance named that cannot be sampled is reported once and dropped (status() is 1).
  Result<json::Json> sample();
  int status() const { return status_; }
  // Instances were named and none is left.
  bool gone() const { return named_ && names_.empty(); }

 private:
  struct Seen {
    uint64_t cpu_ns = 0;
    std::chrono::steady_clock::time_point at;
  };
  Result<std::vector<std::string>> targets();

  Client& client_;
  std::vector<std::string> names_;
  bool named_;
  std::map<std::string, Seen> last_;
  int status_ = 0;
};

// NAME STATE CPU MEMORY LIMIT KSM SHARED.
std::string stats_table(const json::Json& rows);

}  // namespace vessel::cli
