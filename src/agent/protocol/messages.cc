#include "agent/protocol/messages.h"

#include "agent/protocol/fields.h"

namespace vessel::agent {
namespace {

Parsed<std::vector<std::string>> string_list(const Json& j, const char* key, bool required) {
  std::vector<std::string> out;
  if (!j.contains(key)) {
    if (required) return bad(std::string(key) + ": missing");
    return out;
  }
  const Json& a = j[key];
  if (!a.is_array()) return bad(std::string(key) + ": expected an array of strings");
  if (a.size() > kMaxArgs) return bad(std::string(key) + ": more than 1024 entries");
  for (const auto& e : a) {
    if (!e.is_string()) return bad(std::string(key) + ": expected an array of strings");
    const auto& s = e.get_ref<const std::string&>();
    if (s.size() > kMaxArgBytes || s.find('\0') != std::string::npos)
      return bad(std::string(key) + ": an entry is too long or holds a NUL byte");
    out.push_back(s);
  }
  return out;
}

Parsed<std::string> get_path(const Json& j, const char* key) {
  if (!j.contains(key) || !j[key].is_string()) return bad(std::string(key) + ": expected a string");
  const auto& p = j[key].get_ref<const std::string&>();
  if (p.empty() || p[0] != '/' || p.size() > kMaxPath || p.find('\0') != std::string::npos)
    return bad(std::string(key) + ": expected an absolute path of at most 4096 bytes");
  return p;
}

Parsed<uint16_t> dimension(const Json& j, const char* key, uint16_t dflt) {
  if (!j.contains(key)) return dflt;
  auto v = uint_field(j, key, 4096);
  if (!v) return tl::unexpected(v.error());
  return uint16_t(*v);
}

Parsed<double> get_number(const Json& j, const char* key) {
  if (!j.contains(key) || !j[key].is_number()) return bad(std::string(key) + ": expected a number");
  double d = j[key].get<double>();
  if (!(d >= 0 && d < 1e15)) return bad(std::string(key) + ": out of range");
  return d;
}

}  // namespace

Parsed<Json> parse_object(std::string_view text) {
  if (text.size() > 64 * 1024) return bad("message above 64 KiB");
  bool too_deep = false;
  Json j = Json::parse(
      text,
      [&](int depth, Json::parse_event_t, Json&) {
        if (depth > kMaxDepth) too_deep = true;
        return !too_deep;
      },
      false);
  if (too_deep) return bad("message nested too deeply");
  if (j.is_discarded() || !j.is_object()) return bad("message is not a JSON object");
  return j;
}

Parsed<Request> parse_request(std::string_view text) {
  auto parsed = parse_object(text);
  if (!parsed) return tl::unexpected(parsed.error());
  const Json& j = *parsed;
  if (!j.contains("op") || !j["op"].is_string()) return bad("op: expected a string");
  const auto& op = j["op"].get_ref<const std::string&>();
  if (op == "health") return HealthRequest{};
  if (op == "stats") return StatsRequest{};
  if (op == "shutdown") return ShutdownRequest{};
  if (op == "exec") {
    ExecRequest e;
    auto argv = string_list(j, "argv", true);
    if (!argv) return tl::unexpected(argv.error());
    if (argv->empty() || (*argv)[0].empty()) return bad("argv: expected at least the program");
    e.argv = std::move(*argv);
    auto env = string_list(j, "env", false);
    if (!env) return tl::unexpected(env.error());
    for (const auto& kv : *env)
      if (kv.find('=') == std::string::npos || kv[0] == '=') return bad("env: expected KEY=value entries");
    e.env = std::move(*env);
    if (j.contains("cwd")) {
      auto cwd = get_path(j, "cwd");
      if (!cwd) return tl::unexpected(cwd.error());
      e.cwd = *cwd;
    }
    if (j.contains("tty")) {
      if (!j["tty"].is_boolean()) return bad("tty: expected true or false");
      e.tty = j["tty"].get<bool>();
    }
    auto rows = dimension(j, "rows", 24), cols = dimension(j, "cols", 80);
    if (!rows) return tl::unexpected(rows.error());
    if (!cols) return tl::unexpected(cols.error());
    e.rows = *rows;
    e.cols = *cols;
    return e;
  }
  if (op == "copy-in") {
    CopyInRequest c;
    auto path = get_path(j, "path");
    if (!path) return tl::unexpected(path.error());
    c.path = *path;
    if (j.contains("mode")) {
      auto mode = uint_field(j, "mode", 07777);
      if (!mode) return tl::unexpected(mode.error());
      c.mode = uint32_t(*mode);
    }
    return c;
  }
  if (op == "copy-out") {
    auto path = get_path(j, "path");
    if (!path) return tl::unexpected(path.error());
    return CopyOutRequest{*path};
  }
  if (op == "stat" || op == "tree-out" || op == "tree-in") {
    auto path = get_path(j, "path");
    if (!path) return tl::unexpected(path.error());
    const char* flag = op == "tree-in" ? "owners" : "follow";
    bool on = false;
    if (j.contains(flag)) {
      if (!j[flag].is_boolean()) return bad(std::string(flag) + ": expected true or false");
      on = j[flag].get<bool>();
    }
    if (op == "stat") return StatRequest{*path, on};
    if (op == "tree-out") return TreeOutRequest{*path, on};
    return TreeInRequest{*path, on};
  }
  return bad("op: unknown operation '" + op.substr(0, 64) + "'");
}

std::string to_json(const Request& request) {
  Json j;
  std::visit(
      [&](const auto& r) {
        using T = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<T, HealthRequest>) j["op"] = "health";
        if constexpr (std::is_same_v<T, StatsRequest>) j["op"] = "stats";
        if constexpr (std::is_same_v<T, ShutdownRequest>) j["op"] = "shutdown";
        if constexpr (std::is_same_v<T, ExecRequest>) {
          j = Json{{"op", "exec"}, {"argv", r.argv}, {"env", r.env}, {"cwd", r.cwd}, {"tty", r.tty},
                   {"rows", r.rows}, {"cols", r.cols}};
        }
        if constexpr (std::is_same_v<T, CopyInRequest>) j = Json{{"op", "copy-in"}, {"path", r.path}, {"mode", r.mode}};
        if constexpr (std::is_same_v<T, CopyOutRequest>) j = Json{{"op", "copy-out"}, {"path", r.path}};
        if constexpr (std::is_same_v<T, StatRequest>) j = Json{{"op", "stat"}, {"path", r.path}, {"follow", r.follow}};
        if constexpr (std::is_same_v<T, TreeOutRequest>) j = Json{{"op", "tree-out"}, {"path", r.path}, {"follow", r.follow}};
        if constexpr (std::is_same_v<T, TreeInRequest>) j = Json{{"op", "tree-in"}, {"path", r.path}, {"owners", r.owners}};
      },
      request);
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Parsed<ExecControl> parse_exec_control(std::string_view text) {
  auto parsed = parse_object(text);
  if (!parsed) return tl::unexpected(parsed.error());
  const Json& j = *parsed;
  if (!j.contains("op") || !j["op"].is_string()) return bad("op: expected a string");
  if (j["op"] == "resize") {
    auto rows = dimension(j, "rows", 24), cols = dimension(j, "cols", 80);
    if (!rows) return tl::unexpected(rows.error());
    if (!cols) return tl::unexpected(cols.error());
    return ResizeMessage{*rows, *cols};
  }
  if (j["op"] == "signal") {
    auto sig = uint_field(j, "signal", 64);
    if (!sig) return tl::unexpected(sig.error());
    if (*sig == 0) return bad("signal: expected 1 to 64");
    return SignalMessage{int(*sig)};
  }
  return bad("op: expected resize or signal");
}

std::string to_json(const ExecControl& message) {
  if (auto* r = std::get_if<ResizeMessage>(&message))
    return Json{{"op", "resize"}, {"rows", r->rows}, {"cols", r->cols}}.dump();
  return Json{{"op", "signal"}, {"signal", std::get<SignalMessage>(message).signal}}.dump();
}

Parsed<Reply> parse_reply(std::string_view text) {
  auto parsed = parse_object(text);
  if (!parsed) return tl::unexpected(parsed.error());
  Reply r;
  r.body = std::move(*parsed);
  if (!r.body.contains("ok") || !r.body["ok"].is_boolean()) return bad("reply: ok: expected true or false");
  r.ok = r.body["ok"].get<bool>();
  if (!r.ok) {
    if (!r.body.contains("error") || !r.body["error"].is_string()) return bad("reply: error: expected a string");
    r.error = r.body["error"].get<std::string>().substr(0, 4096);
  }
  return r;
}

std::string ok_reply(Json fields) {
  fields["ok"] = true;
  // A guest's names and link targets need not be UTF-8: replaced, never a throw.
  return fields.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string error_reply(std::string_view message) {
  return Json{{"ok", false}, {"error", std::string(message)}}.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Parsed<ExitStatus> parse_exit(std::string_view text) {
  auto parsed = parse_object(text);
  if (!parsed) return tl::unexpected(parsed.error());
  const Json& j = *parsed;
  if (!j.contains("op") || j["op"] != "exit") return bad("exit: expected {\"op\": \"exit\"}");
  ExitStatus s;
  if (j.contains("exit_code")) {
    auto c = uint_field(j, "exit_code", 255);
    if (!c) return tl::unexpected(c.error());
    s.code = int(*c);
  } else if (j.contains("signal")) {
    auto sig = uint_field(j, "signal", 64);
    if (!sig) return tl::unexpected(sig.error());
    s.signal = int(*sig);
  } else {
    return bad("exit: expected exit_code or signal");
  }
  return s;
}

std::string to_json(const ExitStatus& status) {
  Json j{{"op", "exit"}};
  if (status.code) j["exit_code"] = *status.code;
  if (status.signal) j["signal"] = *status.signal;
  return j.dump();
}

Parsed<Health> parse_health(const Json& body) {
  Health h;
  auto up = get_number(body, "uptime_s");
  if (!up) return tl::unexpected(up.error());
  h.uptime_s = *up;
  if (body.contains("version") && body["version"].is_string()) h.version = body["version"].get<std::string>().substr(0, 64);
  return h;
}

Parsed<Stats> parse_stats(const Json& body) {
  Stats s;
  if (!body.contains("memory") || !body["memory"].is_object()) return bad("memory: expected an object");
  const Json& m = body["memory"];
  auto total = uint_field(m, "total_kb", UINT64_MAX), free = uint_field(m, "free_kb", UINT64_MAX),
       avail = uint_field(m, "available_kb", UINT64_MAX);
  if (!total || !free || !avail) return bad("memory: expected total_kb, free_kb, available_kb");
  s.mem_total_kb = *total;
  s.mem_free_kb = *free;
  s.mem_available_kb = *avail;
  if (!body.contains("load") || !body["load"].is_array() || body["load"].size() != 3) return bad("load: expected 3 numbers");
  for (size_t i = 0; i < 3; ++i) {
    const Json& v = body["load"][i];
    if (!v.is_number() || !(v.get<double>() >= 0 && v.get<double>() < 1e9)) return bad("load: expected 3 numbers");
    s.load[i] = v.get<double>();
  }
  if (!body.contains("filesystems") || !body["filesystems"].is_array()) return bad("filesystems: expected an array");
  if (body["filesystems"].size() > kMaxFilesystems) return bad("filesystems: more than 64");
  for (const auto& f : body["filesystems"]) {
    if (!f.is_object()) return bad("filesystems: expected objects");
    FsStats fs;
    auto path = get_path(f, "path");
    auto t = uint_field(f, "total_bytes", UINT64_MAX), fr = uint_field(f, "free_bytes", UINT64_MAX),
         av = uint_field(f, "avail_bytes", UINT64_MAX);
    if (!path || !t || !fr || !av) return bad("filesystems: expected path, total_bytes, free_bytes, avail_bytes");
    fs.path = *path;
    fs.total_bytes = *t;
    fs.free_bytes = *fr;
    fs.avail_bytes = *av;
    s.filesystems.push_back(std::move(fs));
  }
  return s;
}

Json to_json(const Stats& s) {
  Json fss = Json::array();
  for (const auto& f : s.filesystems)
    fss.push_back({{"path", f.path}, {"total_bytes", f.total_bytes}, {"free_bytes", f.free_bytes}, {"avail_bytes", f.avail_bytes}});
  return Json{{"memory", {{"total_kb", s.mem_total_kb}, {"free_kb", s.mem_free_kb}, {"available_kb", s.mem_available_kb}}},
              {"load", {s.load[0], s.load[1], s.load[2]}},
              {"filesystems", fss}};
}

Parsed<FileInfo> parse_file_info(const Json& body) {
  auto size = uint_field(body, "size", UINT64_MAX);
  auto mode = uint_field(body, "mode", 07777);
  if (!size || !mode) return bad("copy-out: expected size and mode");
  return FileInfo{*size, uint32_t(*mode)};
}

}  // namespace vessel::agent
