#include "daemon/spec/port_spec.h"

#include <arpa/inet.h>

namespace vessel::daemon {

namespace {

Result<uint16_t> port_number(std::string_view text, std::string_view what) {
  if (text.empty() || text.size() > 5 || text.find_first_not_of("0123456789") != std::string_view::npos)
    return fail(EINVAL, "{} port '{}' is not a number 1..65535", what, text);
  unsigned long v = std::stoul(std::string(text));
  if (v < 1 || v > 65535) return fail(EINVAL, "{} port {} is outside 1..65535", what, v);
  return static_cast<uint16_t>(v);
}

Result<void> check_host_ip(const std::string& ip) {
  in_addr a;
  if (!ip.empty() && (ip.size() > 15 || ::inet_pton(AF_INET, ip.c_str(), &a) != 1))
    return fail(EINVAL, "host address '{}' is not an IPv4 address", ip);
  return {};
}

}  // namespace

Result<PortSpec> parse_port_flag(std::string_view text) {
  PortSpec p;
  std::string_view rest = text;
  if (auto slash = rest.rfind('/'); slash != std::string_view::npos) {
    p.protocol = std::string(rest.substr(slash + 1));
    rest = rest.substr(0, slash);
    if (p.protocol != "tcp" && p.protocol != "udp")
      return fail(EINVAL, "-p {}: the protocol '{}' is neither tcp nor udp", text, p.protocol);
  }
  auto last = rest.rfind(':');
  if (last == std::string_view::npos)
    return Unexpected(Error(EINVAL, fmt::format("-p {}: expected HOST:GUEST", text)).with_hint("e.g. -p 8080:80 or -p 127.0.0.1:8080:80/tcp"));
  p.guest_port = TRY_CTX(port_number(rest.substr(last + 1), "guest"), "-p {}", text);
  rest = rest.substr(0, last);
  auto ip = rest.rfind(':');
  if (ip != std::string_view::npos) {
    p.host_ip = std::string(rest.substr(0, ip));
    rest = rest.substr(ip + 1);
    if (p.host_ip == "0.0.0.0") p.host_ip.clear();
  }
  p.host_port = TRY_CTX(port_number(rest, "host"), "-p {}", text);
  TRY_CTX(check_host_ip(p.host_ip), "-p {}", text);
  return p;
}

Result<std::vector<PortSpec>> parse_ports(const json::Json& j) {
  if (!j.is_array()) return fail(EINVAL, "spec.ports: expected an array, got {}", json::type_name(j));
  if (j.size() > 64) return fail(EINVAL, "spec.ports: more than 64 ports");
  std::vector<PortSpec> out;
  for (size_t i = 0; i < j.size(); ++i) {
    auto where = fmt::format("spec.ports[{}]", i);
    const auto& e = j[i];
    if (e.is_string()) {  // the CLI's form, parsed here where it is validated
      auto text = e.get<std::string>();
      if (text.size() > 64) return fail(EINVAL, "{}: longer than 64 bytes", where);
      auto p = TRY_CTX(parse_port_flag(text), "{}", where);
      for (const auto& q : out)
        if (ports_clash(p, q)) return fail(EINVAL, "{}: host port {}/{} is published twice", where, p.host_port, p.protocol);
      out.push_back(p);
      continue;
    }
    if (!e.is_object()) return fail(EINVAL, "{}: expected an object or \"[IP:]HOST:GUEST[/PROTO]\"", where);
    TRY(json::reject_unknown(e, where, {"host_ip", "host_port", "guest_port", "protocol"}));
    PortSpec p;
    p.host_ip = TRY(json::opt_string(e, where, "host_ip")).value_or("");
    if (p.host_ip == "0.0.0.0") p.host_ip.clear();
    TRY_CTX(check_host_ip(p.host_ip), "{}", where);
    auto host = TRY(json::opt_uint(e, where, "host_port"));
    auto guest = TRY(json::opt_uint(e, where, "guest_port"));
    if (!host || *host < 1 || *host > 65535) return fail(EINVAL, "{}.host_port: expected 1..65535", where);
    if (!guest || *guest < 1 || *guest > 65535) return fail(EINVAL, "{}.guest_port: expected 1..65535", where);
    p.host_port = static_cast<uint16_t>(*host);
    p.guest_port = static_cast<uint16_t>(*guest);
    p.protocol = TRY(json::opt_string(e, where, "protocol")).value_or("tcp");
    if (p.protocol != "tcp" && p.protocol != "udp") return fail(EINVAL, "{}.protocol: '{}' is neither tcp nor udp", where, p.protocol);
    for (const auto& q : out)
      if (ports_clash(p, q))
        return fail(EINVAL, "{}: host port {}/{} is published twice", where, p.host_port, p.protocol);
    out.push_back(p);
  }
  return out;
}

json::Json to_json(const PortSpec& p) {
  return {{"host_ip", p.host_ip.empty() ? "0.0.0.0" : p.host_ip}, {"host_port", p.host_port}, {"guest_port", p.guest_port},
          {"protocol", p.protocol}};
}

std::string port_line(const PortSpec& p) {
  return fmt::format("{}/{} -> {}:{}", p.guest_port, p.protocol, p.host_ip.empty() ? "0.0.0.0" : p.host_ip, p.host_port);
}

bool ports_clash(const PortSpec& a, const PortSpec& b) {
  return a.host_port == b.host_port && a.protocol == b.protocol &&
         (a.host_ip.empty() || b.host_ip.empty() || a.host_ip == b.host_ip);
}

}  // namespace vessel::daemon
