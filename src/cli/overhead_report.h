// `vessel bench overhead`'s figures (docs/benchmarks/overhead.md): every run of every workload in
// every place, their medians, and the seed's performance model P_v = T_c / T_v taken as
// T_native / T_place: 1.0 is no overhead, 0.5 is twice as long as on the host.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/json.h"

namespace vessel::cli::overhead {

// Where a workload runs: "native" (on the host, a child of the CLI), "container", "vm".
inline const std::vector<std::string>& all_places() {
  static const std::vector<std::string> places = {"native", "container", "vm"};
  return places;
}

// One line of vessel-workload's output, checked.
struct Outcome {
  std::string workload, unit, checksum;
  double work = 0, seconds = 0;
};
// Refuses anything but one JSON object naming `workload` with work > 0, seconds > 0 and a
// checksum (the output of a failed or foreign program is an error that quotes it).
Result<Outcome> parse_outcome(std::string_view output, const std::string& workload);

struct Sample {
  double seconds = 0;       // the workload's own time (its clock, inside the place)
  double wall_seconds = 0;  // the CLI's clock around the whole run: exec and start-up included
  int exit_status = 0;      // checked: a failed run stops the benchmark, never becomes a figure
};

struct WorkloadFigures {
  std::string name, unit, checksum;
  double work = 0;
  std::map<std::string, std::vector<Sample>> samples;  // by place
};

struct Report {
  int runs = 0;
  double scale = 1;
  std::vector<std::string> places;
  std::vector<WorkloadFigures> workloads;
  json::Json where = json::Json::object();  // host, kernel, instances: what the figures describe
};

// The median of the workload's own times in `place`; nullopt without samples.
std::optional<double> median_seconds(const WorkloadFigures& w, const std::string& place);
// T_native / T_place; nullopt when either is missing.
std::optional<double> efficiency(const WorkloadFigures& w, const std::string& place);
double median(std::vector<double> values);

// Adds one run's outcome, checking that the same work was done as in every earlier run (same
// unit, amount and checksum), so that places are compared on equal work.
Result<void> add_sample(WorkloadFigures& w, const std::string& place, const Outcome& outcome,
                        double wall_seconds);

json::Json to_json(const Report& report);
// The table people read: per workload its work, the median T per place, P per place.
std::string to_table(const Report& report);

}  // namespace vessel::cli::overhead
