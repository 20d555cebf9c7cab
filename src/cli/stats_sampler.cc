#include "cli/stats_sampler.h"

#include "cli/commands.h"
#include "cli/format.h"

namespace vessel::cli {

Result<std::vector<std::string>> StatsSampler::targets() {
  if (named_) return names_;
  auto all = TRY(client_.call("GET", "/v1/instances"));
  std::vector<std::string> running;
  for (const auto& i : all)
    if (i.value("state", "") == "running" || i.value("state", "") == "paused") running.push_back(i.value("name", ""));
  return running;
}

Result<json::Json> StatsSampler::sample() {
  json::Json rows = json::Json::array();
  std::map<std::string, Seen> now;
  std::vector<std::string> kept;
  for (const auto& n : TRY(targets())) {
    auto r = client_.call("GET", "/v1/instances/" + escape_segment(n) + "/stats");
    if (!r) {
      if (named_) status_ = report(r.error());  // said once: it is dropped
      continue;  // unnamed: it stopped or went between the list and now
    }
    kept.push_back(n);
    Seen seen{r->value("cpu_ns", uint64_t{0}), std::chrono::steady_clock::now()};
    double cpu = 0;
    if (auto before = last_.find(n); before != last_.end() && seen.cpu_ns >= before->second.cpu_ns) {
      double dt = std::chrono::duration<double>(seen.at - before->second.at).count();
      if (dt > 0) cpu = static_cast<double>(seen.cpu_ns - before->second.cpu_ns) / 1e9 / dt * 100;
    }
    json::Json row = *r;
    row["name"] = n;
    row["cpu_percent"] = cpu;
    rows.push_back(std::move(row));
    now[n] = seen;
  }
  if (named_) names_ = std::move(kept);
  last_ = std::move(now);
  return rows;
}

std::string stats_table(const json::Json& rows) {
  std::vector<std::vector<std::string>> cells;
  for (const auto& s : rows) {
    // KSM SHARED: what KSM merged of a --ksm VM's RAM ("-" for the others).
    std::string shared = s.contains("ksm_merged_bytes") ? human_bytes(s.value("ksm_merged_bytes", uint64_t{0})) : "-";
    cells.push_back({s.value("name", ""), s.value("state", ""), fmt::format("{:.1f}%", s.value("cpu_percent", 0.0)),
                     human_bytes(s.value("memory_bytes", uint64_t{0})), human_bytes(s.value("memory_limit_bytes", uint64_t{0})),
                     shared});
  }
  return render_table({"NAME", "STATE", "CPU", "MEMORY", "LIMIT", "KSM SHARED"}, cells);
}

}  // namespace vessel::cli
