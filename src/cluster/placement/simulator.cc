#include "cluster/placement/simulator.h"

#include <chrono>
#include <cmath>
#include <random>

namespace vessel::cluster::placement {

namespace {

void add_nodes(Scheduler& s, const SimulationConfig& config, std::mt19937_64& rng) {
  static constexpr double kCpus[] = {8, 16, 32, 64};
  for (uint32_t i = 0; i < config.nodes; ++i) {
    Node n;
    n.name = fmt::format("node-{}", i);
    n.cpus = kCpus[rng() % 4];
    n.memory_mib = static_cast<uint64_t>(n.cpus) * 4096;
    n.labels = {{"zone", fmt::format("z{}", i % 4)}};
    if (i % 2 == 0) n.labels["disk"] = "ssd";
    n.cordoned = i % 100 == 37;
    n.ready = i % 100 != 73;
    s.add_node(n);
  }
}

std::vector<Request> make_requests(const SimulationConfig& config, std::mt19937_64& rng) {
  static constexpr double kCpus[] = {0.25, 0.5, 1, 2};
  static constexpr uint64_t kMemory[] = {256, 512, 1024, 2048, 4096};
  std::vector<Request> out(config.instances);
  for (uint32_t i = 0; i < config.instances; ++i) {
    Request& r = out[i];
    r.name = fmt::format("i-{}", i);
    r.cpus = kCpus[rng() % 4];
    r.memory_mib = kMemory[rng() % 5];
    r.group = fmt::format("g{}", i % 500);
    if (i % 10 == 3) r.selector = {{"zone", "z1"}};
    if (i % 20 == 7) r.anti_affinity = {r.group};
    if (i % 50 == 11) r.affinity = {fmt::format("g{}", (i + 1) % 500)};
  }
  return out;
}

void measure_loads(const Scheduler& s, SimulationReport& report) {
  double sum = 0, sum_sq = 0, total_weight = 0;
  uint64_t placed_here = 0;
  uint32_t counted = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const Node& n = s.node(i);
    const Load& load = s.load(i);
    if (load.instances > 0) ++report.nodes_used;
    if (!n.ready || n.cordoned) continue;
    double used = load.cpus / n.cpus;
    sum += used, sum_sq += used * used, ++counted;
    report.cpu_used_max = std::max(report.cpu_used_max, used);
    total_weight += n.weight > 0 ? n.weight : n.cpus;
    placed_here += load.instances;
  }
  if (counted == 0) return;
  report.cpu_used_mean = sum / counted;
  report.cpu_used_stddev = std::sqrt(std::max(0.0, sum_sq / counted - report.cpu_used_mean * report.cpu_used_mean));
  for (size_t i = 0; i < s.size(); ++i) {
    const Node& n = s.node(i);
    if (!n.ready || n.cordoned) continue;
    double share = (n.weight > 0 ? n.weight : n.cpus) / total_weight * static_cast<double>(placed_here);
    report.largest_share_error = std::max(report.largest_share_error, std::abs(s.load(i).instances - share));
  }
}

}  // namespace

SimulationReport simulate(const SimulationConfig& config) {
  SimulationReport report;
  report.config = config;
  std::mt19937_64 rng(config.seed);
  Scheduler s(config.policy);
  add_nodes(s, config, rng);
  std::vector<Request> requests = make_requests(config, rng);
  auto start = std::chrono::steady_clock::now();
  for (const auto& r : requests) {
    if (s.place(r)) ++report.placed;
    else ++report.unplaced;
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  report.placements_per_second = report.seconds > 0 ? static_cast<double>(config.instances) / report.seconds : 0;
  measure_loads(s, report);
  return report;
}

json::Json report_json(const SimulationReport& r) {
  return {{"nodes", r.config.nodes},
          {"instances", r.config.instances},
          {"policy", std::string(to_string(r.config.policy))},
          {"seed", r.config.seed},
          {"placed", r.placed},
          {"unplaced", r.unplaced},
          {"seconds", r.seconds},
          {"placements_per_second", r.placements_per_second},
          {"nodes_used", r.nodes_used},
          {"cpu_used", {{"mean", r.cpu_used_mean}, {"stddev", r.cpu_used_stddev}, {"max", r.cpu_used_max}}},
          {"largest_share_error", r.largest_share_error}};
}

}  // namespace vessel::cluster::placement
