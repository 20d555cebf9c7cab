#include "cli/overhead_report.h"

#include <algorithm>
#include <cmath>

#include "cli/format.h"

namespace vessel::cli::overhead {

namespace {

std::string quote(std::string_view output) {
  std::string s(output.substr(0, 300));
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s.empty() ? "(no output)" : "'" + s + "'";
}

std::string seconds_text(double s) {
  if (s >= 10) return fmt::format("{:.1f} s", s);
  if (s >= 1) return fmt::format("{:.2f} s", s);
  return fmt::format("{:.1f} ms", s * 1e3);
}

std::string work_text(const WorkloadFigures& w) {
  double v = w.work;
  if (v >= 1e6 && std::fmod(v, 1e6) == 0) return fmt::format("{:g} M {}", v / 1e6, w.unit);
  return fmt::format("{:g} {}", v, w.unit);
}

}  // namespace

Result<Outcome> parse_outcome(std::string_view output, const std::string& workload) {
  auto bad = [&](const std::string& why) {
    return Unexpected(
        Error(EPROTO, fmt::format("vessel-workload {}: {}: {}", workload, why, quote(output)))
            .with_hint("run vessel-workload by hand in that place to see what it prints"));
  };
  // Its one line of JSON: the last non-empty line (a VM's exec output may carry stderr too).
  std::string_view text = output;
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  if (auto nl = text.rfind('\n'); nl != std::string_view::npos) text.remove_prefix(nl + 1);
  auto j = json::parse(text, 4096, 4);
  if (!j || !j->is_object()) return bad("not one JSON object");
  Outcome o;
  auto name = json::get_string(*j, "outcome", "workload");
  auto unit = json::get_string(*j, "outcome", "unit");
  auto checksum = json::get_string(*j, "outcome", "checksum");
  if (!name || !unit || !checksum) return bad("workload, unit or checksum missing");
  o.workload = *name;
  o.unit = *unit;
  o.checksum = *checksum;
  auto number = [&](const char* key) -> std::optional<double> {
    auto it = j->find(key);
    if (it == j->end() || !it->is_number()) return std::nullopt;
    return it->get<double>();
  };
  auto work = number("work"), seconds = number("seconds");
  if (!work || !seconds) return bad("work or seconds missing");
  o.work = *work;
  o.seconds = *seconds;
  if (o.workload != workload) return bad("it ran another workload (" + o.workload + ")");
  if (!(o.work > 0) || !(o.seconds > 0) || !std::isfinite(o.seconds))
    return bad("no work done, or no time taken");
  return o;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t mid = v.size() / 2;
  return v.size() % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

std::optional<double> median_seconds(const WorkloadFigures& w, const std::string& place) {
  auto it = w.samples.find(place);
  if (it == w.samples.end() || it->second.empty()) return std::nullopt;
  std::vector<double> t;
  for (const auto& s : it->second) t.push_back(s.seconds);
  return median(std::move(t));
}

std::optional<double> efficiency(const WorkloadFigures& w, const std::string& place) {
  auto native = median_seconds(w, "native"), there = median_seconds(w, place);
  if (!native || !there || *there <= 0) return std::nullopt;
  return *native / *there;
}

Result<void> add_sample(WorkloadFigures& w, const std::string& place, const Outcome& o,
                        double wall_seconds) {
  if (w.unit.empty()) {
    w.name = o.workload;
    w.unit = o.unit;
    w.work = o.work;
    w.checksum = o.checksum;
  } else if (o.unit != w.unit || o.work != w.work || o.checksum != w.checksum) {
    return Unexpected(
        Error(
            EPROTO,
            fmt::format("{} in {} did other work ({:g} {}, checksum {}) than before ({:g} {}, "
                        "checksum {})",
                        o.workload, place, o.work, o.unit, o.checksum, w.work, w.unit, w.checksum))
            .with_hint("every place must run the same vessel-workload at the same --scale"));
  }
  w.samples[place].push_back(Sample{o.seconds, wall_seconds, 0});
  return {};
}

json::Json to_json(const Report& r) {
  json::Json workloads = json::Json::array();
  for (const auto& w : r.workloads) {
    json::Json places = json::Json::object(), p = json::Json::object();
    for (const auto& [place, samples] : w.samples) {
      json::Json seconds = json::Json::array(), wall = json::Json::array(),
                 status = json::Json::array();
      for (const auto& s : samples) {
        seconds.push_back(s.seconds);
        wall.push_back(s.wall_seconds);
        status.push_back(s.exit_status);
      }
      places[place] = {{"median_seconds", median_seconds(w, place).value_or(0)},
                       {"seconds", seconds},
                       {"wall_seconds", wall},
                       {"exit_status", status}};
      if (place != "native")
        if (auto e = efficiency(w, place)) p[place] = *e;
    }
    workloads.push_back({{"name", w.name},
                         {"work", w.work},
                         {"unit", w.unit},
                         {"checksum", w.checksum},
                         {"places", places},
                         {"p", p}});
  }
  return {{"runs", r.runs},
          {"scale", r.scale},
          {"places", r.places},
          {"workloads", workloads},
          {"where", r.where},
          {"p_definition",
           "T_native / T_place (median seconds): 1 = no overhead, 0.5 = twice as long"}};
}

std::string to_table(const Report& r) {
  std::vector<std::string> header = {"WORKLOAD", "WORK"};
  for (const auto& p : r.places) header.push_back("T " + p);
  for (const auto& p : r.places)
    if (p != "native") header.push_back("P " + p);
  std::vector<std::vector<std::string>> rows;
  for (const auto& w : r.workloads) {
    std::vector<std::string> row = {w.name, work_text(w)};
    for (const auto& p : r.places) {
      auto t = median_seconds(w, p);
      row.push_back(t ? seconds_text(*t) : "-");
    }
    for (const auto& p : r.places) {
      if (p == "native") continue;
      auto e = efficiency(w, p);
      row.push_back(e ? fmt::format("{:.2f}", *e) : "-");
    }
    rows.push_back(std::move(row));
  }
  return render_table(header, rows);
}

}  // namespace vessel::cli::overhead
