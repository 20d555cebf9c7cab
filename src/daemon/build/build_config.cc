#include "daemon/build/build_config.h"

#include <chrono>

#include "daemon/images/dockerfile_words.h"

namespace vessel::daemon::build {

namespace {

std::string now_rfc3339() {
  auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Go's durations as HEALTHCHECK takes them ("30s", "1m30s", "500ms", "1h"), in nanoseconds.
Result<int64_t> parse_duration(std::string_view text) {
  if (text.empty()) return fail(EINVAL, "empty duration");
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
    if (start == i) return fail(EINVAL, "bad duration {}", text);
    double value = std::strtod(std::string(text.substr(start, i - start)).c_str(), nullptr);
    size_t unit_start = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    std::string_view unit = text.substr(unit_start, i - unit_start);
    double scale = unit == "ns" ? 1 : unit == "us" ? 1e3 : unit == "ms" ? 1e6 : unit == "s" ? 1e9 : unit == "m" ? 60e9 : unit == "h" ? 3600e9 : 0;
    if (scale == 0) return fail(EINVAL, "bad duration {} (units: ns, us, ms, s, m, h)", text);
    total += static_cast<int64_t>(value * scale);
  }
  return total;
}

std::vector<std::string> command_of(const dockerfile::Instruction& in, const StageState& state) {
  if (in.exec) return *in.exec;
  std::vector<std::string> out = state.shell;
  out.push_back(in.args);
  return out;
}

Result<void> healthcheck(const dockerfile::Instruction& in, StageState& state) {
  if (in.sub == "NONE") {
    state.config["Healthcheck"] = {{"Test", {"NONE"}}};
    return {};
  }
  json::Json hc = json::Json::object();
  json::Json test = json::Json::array();
  if (in.exec) {
    test.push_back("CMD");
    for (const auto& a : *in.exec) test.push_back(a);
  } else {
    test = {"CMD-SHELL", in.args};
  }
  hc["Test"] = test;
  static const std::pair<const char*, const char*> kTimes[] = {
      {"interval", "Interval"}, {"timeout", "Timeout"}, {"start-period", "StartPeriod"}, {"start-interval", "StartInterval"}};
  for (const auto& [flag, key] : kTimes)
    if (auto v = in.flag(flag)) hc[key] = TRY_CTX(parse_duration(*v), "--{}", flag);
  if (auto v = in.flag("retries")) {
    char* end = nullptr;
    long n = std::strtol(v->c_str(), &end, 10);
    if (v->empty() || *end || n < 0) return fail(EINVAL, "--retries={}: not a count", *v);
    hc["Retries"] = n;
  }
  state.config["Healthcheck"] = hc;
  return {};
}

Result<void> arg(const dockerfile::Instruction& in, StageState& state, char escape, ArgSources& args) {
  for (const auto& kv : TRY(dockerfile::key_values(in, stage_vars(state), escape))) {
    std::optional<std::string> value = kv.value;
    if (!value)
      if (auto g = args.global_args.find(kv.key); g != args.global_args.end()) value = g->second;
    if (auto given = args.build_args.find(kv.key); given != args.build_args.end()) {
      value = given->second;
      args.used.insert(kv.key);
    }
    if (value) state.args[kv.key] = *value;
    else state.args.erase(kv.key);
  }
  return {};
}

Result<void> metadata(const dockerfile::Instruction& in, StageState& state, char escape) {
  auto vars = stage_vars(state);
  const std::string& k = in.keyword;
  if (k == "ENV") {
    for (const auto& kv : TRY(dockerfile::key_values(in, vars, escape))) set_env(state, kv.key, kv.value.value_or(""));
  } else if (k == "LABEL") {
    if (!state.config["Labels"].is_object()) state.config["Labels"] = json::Json::object();
    for (const auto& kv : TRY(dockerfile::key_values(in, vars, escape))) state.config["Labels"][kv.key] = kv.value.value_or("");
  } else if (k == "EXPOSE") {
    if (!state.config["ExposedPorts"].is_object()) state.config["ExposedPorts"] = json::Json::object();
    for (auto port : TRY(dockerfile::words(in.args, vars, escape))) {
      if (port.find('/') == std::string::npos) port += "/tcp";
      state.config["ExposedPorts"][port] = json::Json::object();
    }
  } else if (k == "USER") {
    state.config["User"] = TRY(dockerfile::word(in.args, vars, escape));
  } else if (k == "STOPSIGNAL") {
    state.config["StopSignal"] = TRY(dockerfile::word(in.args, vars, escape));
  } else if (k == "VOLUME") {
    if (!state.config["Volumes"].is_object()) state.config["Volumes"] = json::Json::object();
    for (const auto& v : in.exec ? *in.exec : TRY(dockerfile::words(in.args, vars, escape))) state.config["Volumes"][v] = json::Json::object();
  } else if (k == "MAINTAINER") {
    state.author = in.args;
  } else if (k == "ONBUILD") {
    if (!state.config["OnBuild"].is_array()) state.config["OnBuild"] = json::Json::array();
    state.config["OnBuild"].push_back(in.args);
  } else {
    return fail(EINVAL, "not a config instruction: {}", k);
  }
  return {};
}

}  // namespace

dockerfile::Vars stage_vars(const StageState& state) {
  dockerfile::Vars vars = state.args;
  if (state.config["Env"].is_array())
    for (const auto& kv : state.config["Env"]) {
      if (!kv.is_string()) continue;
      auto s = kv.get<std::string>();
      auto eq = s.find('=');
      if (eq != std::string::npos) vars[s.substr(0, eq)] = s.substr(eq + 1);
    }
  return vars;
}

void set_env(StageState& state, const std::string& name, const std::string& value) {
  if (!state.config["Env"].is_array()) state.config["Env"] = json::Json::array();
  for (auto& kv : state.config["Env"])
    if (kv.is_string() && kv.get<std::string>().rfind(name + "=", 0) == 0) {
      kv = name + "=" + value;
      return;
    }
  state.config["Env"].push_back(name + "=" + value);
}

std::string workdir_of(const StageState& state) {
  std::string w = state.config.contains("WorkingDir") && state.config["WorkingDir"].is_string()
                      ? state.config["WorkingDir"].get<std::string>() : "";
  return w.empty() ? "/" : w;
}

std::string instruction_text(const dockerfile::Instruction& in) {
  std::string out = in.keyword;
  for (const auto& [name, value] : in.flags) out += " --" + name + (value.empty() ? "" : "=" + value);
  if (!in.sub.empty()) out += " " + in.sub;
  if (in.exec) out += " " + json::Json(*in.exec).dump();
  else if (!in.args.empty()) out += " " + in.args;
  return out;
}

Result<bool> apply_config_instruction(const dockerfile::Instruction& in, StageState& state, char escape, ArgSources& args) {
  const std::string& k = in.keyword;
  if (k == "ARG") {
    TRY(arg(in, state, escape, args));
  } else if (k == "CMD") {
    state.config["Cmd"] = command_of(in, state);
    state.cmd_set = true;
  } else if (k == "ENTRYPOINT") {
    state.config["Entrypoint"] = command_of(in, state);
    if (!state.cmd_set) state.config.erase("Cmd");  // Docker: a new ENTRYPOINT drops the base image's CMD
  } else if (k == "SHELL") {
    if (!in.exec || in.exec->empty()) return fail(EINVAL, "SHELL needs a JSON array: SHELL [\"/bin/sh\", \"-c\"]");
    state.shell = *in.exec;
    state.config["Shell"] = *in.exec;
  } else if (k == "HEALTHCHECK") {
    TRY(healthcheck(in, state));
  } else if (k == "ENV" || k == "LABEL" || k == "EXPOSE" || k == "USER" || k == "STOPSIGNAL" || k == "VOLUME" ||
             k == "MAINTAINER" || k == "ONBUILD") {
    TRY(metadata(in, state, escape));
  } else {
    return false;
  }
  return true;
}

std::string image_config_document(const StageState& state) {
  json::Json doc = {{"created", now_rfc3339()}, {"architecture", "amd64"}, {"os", "linux"},
                    {"config", state.config}, {"rootfs", {{"type", "layers"}, {"diff_ids", state.diff_ids}}},
                    {"history", state.history}};
  if (!state.author.empty()) doc["author"] = state.author;
  return doc.dump();
}

}  // namespace vessel::daemon::build
