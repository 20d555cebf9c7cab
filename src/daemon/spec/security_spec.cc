#include "daemon/spec/security_spec.h"

#include <algorithm>
#include <cctype>

namespace vessel::daemon {

namespace {

bool contains(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }

Result<std::vector<std::string>> capability_list(const json::Json& body, const char* key) {
  std::vector<std::string> out;
  if (!body.contains(key)) return out;
  const auto& list = body[key];
  std::string where = fmt::format("spec.{}", key);
  if (!list.is_array()) return fail(EINVAL, "{}: expected an array of capability names, got {}", where, json::type_name(list));
  if (list.size() > 64) return fail(EINVAL, "{}: more than 64 entries", where);
  for (size_t i = 0; i < list.size(); ++i) {
    std::string at = fmt::format("{}[{}]", where, i);
    if (!list[i].is_string()) return fail(EINVAL, "{}: expected a string", at);
    auto name = TRY(normalize_capability(list[i].get<std::string>(), at));
    if (!contains(out, name)) out.push_back(name);
  }
  return out;
}

// Docker's --security-opt forms: "seccomp=unconfined" (or ':'), "no-new-privileges[=true|false]".
Result<void> apply_security_opt(const std::string& opt, std::string_view where, SecuritySpec& s) {
  auto sep = opt.find_first_of("=:");
  std::string key = opt.substr(0, sep), value = sep == std::string::npos ? "" : opt.substr(sep + 1);
  if (key == "seccomp") {
    if (value == "unconfined") return s.seccomp_unconfined = true, Result<void>{};
    return Unexpected(Error(EINVAL, fmt::format("{}: seccomp={} is not supported", where, value))
                          .with_hint("vesseld has its built-in default profile and seccomp=unconfined"));
  }
  if (key == "no-new-privileges") {
    if (value.empty() || value == "true") return s.no_new_privileges = true, Result<void>{};
    if (value == "false") return s.no_new_privileges = false, Result<void>{};
    return fail(EINVAL, "{}: no-new-privileges takes true or false, not '{}'", where, value);
  }
  return Unexpected(Error(EINVAL, fmt::format("{}: '{}' is not supported", where, opt))
                        .with_hint("supported: seccomp=unconfined, no-new-privileges"));
}

}  // namespace

bool SecuritySpec::custom() const {
  return privileged || !cap_add.empty() || !cap_drop.empty() || seccomp_unconfined || no_new_privileges ||
         pids_limit != kDefaultPidsLimit || userns != UsernsMode::Host;
}

const std::vector<std::string>& default_capabilities() {
  static const std::vector<std::string> caps = {
      "CAP_CHOWN",  "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",     "CAP_NET_RAW",
      "CAP_SETGID", "CAP_SETUID",       "CAP_SETFCAP",          "CAP_SETPCAP",    "CAP_NET_BIND_SERVICE",
      "CAP_SYS_CHROOT", "CAP_KILL",     "CAP_AUDIT_WRITE"};
  return caps;
}

const std::vector<std::string>& all_capabilities() {
  static const std::vector<std::string> caps = {
      "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
      "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
      "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO",
      "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
      "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
      "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
      "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"};
  return caps;
}

Result<std::string> normalize_capability(const std::string& name, std::string_view where) {
  std::string upper;
  for (char c : name) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (upper == "ALL") return upper;
  if (upper.rfind("CAP_", 0) != 0) upper = "CAP_" + upper;
  if (contains(all_capabilities(), upper)) return upper;
  return Unexpected(Error(EINVAL, fmt::format("{}: unknown capability '{}'", where, name.substr(0, 64)))
                        .with_hint("use a name from capabilities(7), e.g. NET_ADMIN, or ALL"));
}

std::vector<std::string> container_capabilities(const SecuritySpec& s) {
  if (s.privileged) return all_capabilities();
  std::vector<std::string> out;
  if (contains(s.cap_add, "ALL")) {
    for (const auto& c : all_capabilities())
      if (!contains(s.cap_drop, c)) out.push_back(c);
    return out;
  }
  if (!contains(s.cap_drop, "ALL"))
    for (const auto& c : default_capabilities())
      if (!contains(s.cap_drop, c)) out.push_back(c);
  for (const auto& c : s.cap_add)
    if (!contains(out, c)) out.push_back(c);
  return out;
}

Result<SecuritySpec> parse_security(const json::Json& body) {
  SecuritySpec s;
  s.privileged = TRY(json::opt_bool(body, "spec", "privileged")).value_or(false);
  s.cap_add = TRY(capability_list(body, "cap_add"));
  s.cap_drop = TRY(capability_list(body, "cap_drop"));
  if (body.contains("security_opt")) {
    const auto& opts = body["security_opt"];
    if (!opts.is_array() || opts.size() > 16)
      return fail(EINVAL, "spec.security_opt: expected an array of at most 16 strings");
    for (size_t i = 0; i < opts.size(); ++i) {
      std::string where = fmt::format("spec.security_opt[{}]", i);
      if (!opts[i].is_string()) return fail(EINVAL, "{}: expected a string", where);
      TRY(apply_security_opt(opts[i].get<std::string>(), where, s));
    }
  }
  if (body.contains("pids_limit")) {
    const auto& p = body["pids_limit"];
    if (!p.is_number_integer()) return fail(EINVAL, "spec.pids_limit: expected an integer, got {}", json::type_name(p));
    int64_t v = p.get<int64_t>();
    if (v < -1 || v > (int64_t{1} << 22)) return fail(EINVAL, "spec.pids_limit: {} is outside -1..4194304", v);
    s.pids_limit = v < 0 ? 0 : v;  // Docker: 0 and -1 both mean no limit
  }
  if (auto userns = TRY(json::opt_string(body, "spec", "userns"))) {
    if (*userns == "auto") s.userns = UsernsMode::Auto;
    else if (*userns != "host" && !userns->empty())
      return Unexpected(Error(EINVAL, fmt::format("spec.userns: '{}' is not supported", userns->substr(0, 64)))
                            .with_hint("use host (the host's ids, the default) or auto (a private range of 65536 ids)"));
  }
  return s;
}

void security_to_json(const SecuritySpec& s, json::Json& j) {
  j["privileged"] = s.privileged;
  j["pids_limit"] = s.pids_limit;
  if (!s.cap_add.empty()) j["cap_add"] = s.cap_add;
  if (!s.cap_drop.empty()) j["cap_drop"] = s.cap_drop;
  std::vector<std::string> opts;
  if (s.seccomp_unconfined) opts.push_back("seccomp=unconfined");
  if (s.no_new_privileges) opts.push_back("no-new-privileges");
  if (!opts.empty()) j["security_opt"] = opts;
  if (s.userns == UsernsMode::Auto) j["userns"] = "auto";
}

}  // namespace vessel::daemon
