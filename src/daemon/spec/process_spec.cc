#include "daemon/spec/process_spec.h"

#include "daemon/spec/spec_fields.h"

namespace vessel::daemon {

namespace {

constexpr size_t kMaxUserBytes = 256;
constexpr size_t kMaxHostnameBytes = 64;  // HOST_NAME_MAX

bool name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-'; }

// One side of uid[:gid] / name[:group]: digits, or a name as useradd allows (no leading '-').
bool user_part_ok(std::string_view part) {
  if (part.empty() || part[0] == '-') return false;
  for (char c : part)
    if (!name_char(c)) return false;
  return true;
}

Result<std::string> parse_user(const json::Json& j) {
  auto user = TRY(bounded_string(j, "spec.user"));
  auto colon = user.find(':');
  bool ok = user.size() <= kMaxUserBytes && user_part_ok(std::string_view(user).substr(0, colon)) &&
            (colon == std::string::npos || user_part_ok(std::string_view(user).substr(colon + 1)));
  if (!ok) return fail(EINVAL, "spec.user: '{}' is not uid[:gid] or name[:group]", user.substr(0, 64));
  return user;
}

// RFC 1123: labels of letters, digits and '-', not starting or ending with '-', joined by '.'.
Result<std::string> parse_hostname(const json::Json& j) {
  auto name = TRY(bounded_string(j, "spec.hostname"));
  bool ok = !name.empty() && name.size() <= kMaxHostnameBytes;
  size_t start = 0;
  while (ok && start <= name.size()) {
    size_t end = std::min(name.find('.', start), name.size());
    std::string_view label = std::string_view(name).substr(start, end - start);
    ok = !label.empty() && label.front() != '-' && label.back() != '-';
    for (char c : label) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '-');
    start = end + 1;
  }
  if (!ok) return fail(EINVAL, "spec.hostname: '{}' is not a host name (letters, digits, '-' and '.', at most 64)", name.substr(0, 80));
  return name;
}

Result<TtySize> parse_tty(const json::Json& j) {
  if (!j.is_object()) return fail(EINVAL, "spec.tty: expected an object {{rows, cols}}, got {}", json::type_name(j));
  TRY(json::reject_unknown(j, "spec.tty", {"rows", "cols"}));
  TtySize size;
  for (auto [key, field] : {std::pair{"rows", &size.rows}, std::pair{"cols", &size.cols}}) {
    auto v = TRY(json::opt_uint(j, "spec.tty", key)).value_or(0);
    if (v > 0xffff) return fail(EINVAL, "spec.tty.{}: {} is above 65535", key, v);
    *field = static_cast<uint16_t>(v);
  }
  return size;
}

}  // namespace

Result<ProcessSpec> parse_process_spec(const json::Json& spec) {
  ProcessSpec p;
  if (spec.contains("entrypoint")) p.entrypoint = TRY(string_list(spec["entrypoint"], "spec.entrypoint"));
  if (spec.contains("workdir")) p.workdir = TRY(absolute_path(spec["workdir"], "spec.workdir"));
  if (spec.contains("user")) p.user = TRY(parse_user(spec["user"]));
  if (spec.contains("hostname")) p.hostname = TRY(parse_hostname(spec["hostname"]));
  if (spec.contains("tty")) p.tty = TRY(parse_tty(spec["tty"]));
  p.init = TRY(json::opt_bool(spec, "spec", "init")).value_or(false);
  p.interactive = TRY(json::opt_bool(spec, "spec", "interactive")).value_or(false);
  return p;
}

void process_to_json(const ProcessSpec& p, json::Json& spec) {
  if (p.entrypoint) spec["entrypoint"] = *p.entrypoint;
  if (!p.workdir.empty()) spec["workdir"] = p.workdir;
  if (!p.user.empty()) spec["user"] = p.user;
  if (!p.hostname.empty()) spec["hostname"] = p.hostname;
  if (p.tty) spec["tty"] = {{"rows", p.tty->rows}, {"cols", p.tty->cols}};
  if (p.init) spec["init"] = true;
  if (p.interactive) spec["interactive"] = true;
}

std::vector<std::string> process_args(const ProcessSpec& p, const std::vector<std::string>& command,
                                      const std::vector<std::string>& image_entrypoint,
                                      const std::vector<std::string>& image_cmd) {
  std::vector<std::string> args = p.entrypoint ? *p.entrypoint : image_entrypoint;
  const auto& cmd = !command.empty() ? command : p.entrypoint ? std::vector<std::string>{} : image_cmd;
  args.insert(args.end(), cmd.begin(), cmd.end());
  return args;
}

}  // namespace vessel::daemon
