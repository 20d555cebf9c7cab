#include "cli/instance_list.h"

#include <algorithm>
#include <cmath>

#include "cli/format.h"

namespace vessel::cli {

namespace {

const char* const kStates[] = {"created", "running", "paused", "stopped", "suspended", "checkpointed", "incoming"};

std::string plural(int64_t n, const char* unit) { return fmt::format("{} {}{}", n, unit, n == 1 ? "" : "s"); }

int64_t field(const json::Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

// "(0)", "(137)"; "(?)" when nobody learnt the status.
std::string code_of(const json::Json& i) {
  auto it = i.find("exit_code");
  return it != i.end() && it->is_number_integer() ? fmt::format("({})", it->get<int64_t>()) : "(?)";
}

std::string ago(const json::Json& i, const char* key, int64_t now) {
  int64_t at = field(i, key);
  return at > 0 ? " " + human_duration(now - at) + " ago" : "";
}

std::string health_suffix(const json::Json& i) {
  auto it = i.find("health");
  if (it == i.end() || !it->is_object()) return "";
  std::string status = it->value("status", "");
  return status == "starting" ? " (health: starting)" : " (" + status + ")";
}

// Docker's "Exited" is vessel's "stopped": --filter status=exited means it.
std::string state_for_filter(const std::string& status) { return status == "exited" ? "stopped" : status; }

}  // namespace

std::string human_duration(int64_t s) {
  if (s < 1) return "Less than a second";
  if (s < 60) return plural(s, "second");
  int64_t minutes = s / 60;
  if (minutes == 1) return "About a minute";
  if (minutes < 60) return plural(minutes, "minute");
  auto hours = static_cast<int64_t>(std::llround(static_cast<double>(s) / 3600));
  if (hours == 1) return "About an hour";
  if (hours < 48) return plural(hours, "hour");
  if (hours < 24 * 14) return plural(hours / 24, "day");
  if (hours < 24 * 60) return plural(hours / 24 / 7, "week");
  if (hours < 24 * 730) return plural(hours / 24 / 30, "month");
  return plural(hours / 24 / 365, "year");
}

std::string instance_status(const json::Json& i, int64_t now) {
  std::string state = i.value("state", "");
  if (state == "created") return "Created";
  if (state == "running") return "Up " + human_duration(now - field(i, "started_at")) + health_suffix(i);
  if (state == "paused") return "Up " + human_duration(now - field(i, "started_at")) + " (Paused)";
  if (state == "stopped") {
    // A restart the policy is waiting for (docs/daemon/restart.md), as Docker's "Restarting".
    if (i.value("restart_pending", false)) return "Restarting " + code_of(i) + ago(i, "finished_at", now);
    return "Exited " + code_of(i) + ago(i, "finished_at", now);
  }
  if (state == "suspended") return "Suspended" + ago(i, "updated_at", now);
  if (state == "checkpointed") return "Checkpointed" + ago(i, "updated_at", now);
  if (state.empty()) return "-";
  std::string shown = state;
  shown[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(shown[0])));
  return shown;
}

std::string ports_text(const json::Json& ports) {
  std::string out;
  if (!ports.is_array()) return out;
  for (const auto& p : ports) {
    if (!p.is_object()) continue;
    std::string ip = p.value("host_ip", "");
    out += fmt::format("{}{}:{}->{}/{}", out.empty() ? "" : ", ", ip.empty() ? "0.0.0.0" : ip, p.value("host_port", 0),
                       p.value("guest_port", 0), p.value("protocol", "tcp"));
  }
  return out;
}

std::string instances_table(const json::Json& list, int64_t now) {
  // In a cluster (docs/cluster.md) every instance says its node: a NODE column.
  bool clustered = std::any_of(list.begin(), list.end(), [](const json::Json& i) { return i.contains("node"); });
  std::vector<std::vector<std::string>> rows;
  for (const auto& i : list) {
    std::string source = i.value("image", "");
    if (source.empty()) source = i.value("rootfs", i.value("kernel", ""));
    int64_t created = field(i, "created_at");
    rows.push_back({i.value("name", ""), i.value("type", ""), source,
                    created > 0 ? human_duration(now - created) + " ago" : "-", instance_status(i, now),
                    ports_text(i.value("ports", json::Json::array()))});
    if (clustered) rows.back().push_back(i.value("node", "-").empty() ? "-" : i.value("node", "-"));
  }
  std::vector<std::string> header{"NAME", "TYPE", "IMAGE", "CREATED", "STATUS", "PORTS"};
  if (clustered) header.push_back("NODE");
  return render_table(header, rows);
}

Result<void> add_filter(InstanceFilter& filter, const std::string& text) {
  auto [key, value] = TRY_CTX(parse_key_value(text, "--filter"), "--filter");
  if (key == "status") {
    std::string state = state_for_filter(value);
    if (std::find(std::begin(kStates), std::end(kStates), state) == std::end(kStates))
      return Unexpected(Error(EINVAL, fmt::format("--filter status={}: no instance is ever '{}'", value, value))
                            .with_hint("created, running, paused, stopped (or exited), suspended, checkpointed, incoming"));
  } else if (key == "type") {
    if (value != "vm" && value != "container")
      return Unexpected(Error(EINVAL, fmt::format("--filter type={}: an instance is a vm or a container", value)));
  } else if (key != "name" && key != "label") {
    return Unexpected(Error(EINVAL, fmt::format("--filter {}: vessel ls cannot filter by '{}'", text, key))
                          .with_hint("filter by name=, status=, label=KEY[=VALUE] or type=vm|container"));
  }
  filter.values[key].push_back(value);
  return {};
}

static bool matches_one(const std::string& key, const std::string& value, const json::Json& i) {
  if (key == "name") return i.value("name", "").find(value) != std::string::npos;  // as Docker: a part of it
  if (key == "status") return i.value("state", "") == state_for_filter(value);
  if (key == "type") return i.value("type", "") == value;
  // label=KEY or label=KEY=VALUE
  auto labels = i.find("labels");
  if (labels == i.end() || !labels->is_object()) return false;
  auto eq = value.find('=');
  auto it = labels->find(value.substr(0, eq));
  if (it == labels->end()) return false;
  return eq == std::string::npos || (it->is_string() && it->get<std::string>() == value.substr(eq + 1));
}

bool matches(const InstanceFilter& filter, const json::Json& i) {
  for (const auto& [key, values] : filter.values) {
    auto one = [&](const std::string& v) { return matches_one(key, v, i); };
    // Labels must all be there (as Docker's); the values of any other key are alternatives.
    if (key == "label" ? !std::all_of(values.begin(), values.end(), one) : std::none_of(values.begin(), values.end(), one))
      return false;
  }
  if (filter.all || filter.values.count("status")) return true;
  std::string state = i.value("state", "");
  return state == "running" || state == "paused";
}

json::Json filter_instances(const json::Json& list, const InstanceFilter& filter) {
  json::Json out = json::Json::array();
  for (const auto& i : list)
    if (i.is_object() && matches(filter, i)) out.push_back(i);
  return out;
}

}  // namespace vessel::cli
