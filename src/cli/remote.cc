#include "cli/remote.h"

#include <unistd.h>

#include <cstdlib>

#include "base/fd.h"
#include "cli/commands.h"
#include "http/public_key_pin.h"

namespace vessel::cli {

namespace {

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}

}  // namespace

Result<void> remote_options(const Remote& r, http::ClientOptions& options) {
  if (r.url.compare(0, 8, "https://") != 0)
    return Unexpected(Error(EINVAL, fmt::format("--remote {}: expected https://HOST:PORT", r.url))
                          .with_hint("vesseld serves TLS only on TCP (vesseld --listen tcp://ADDR:PORT)"));
  if (r.client_cert.empty() || r.client_key.empty())
    return Unexpected(Error(EINVAL, "--remote needs a client certificate and its key")
                          .with_hint("pass --client-cert CERT --client-key KEY (or VESSEL_CLIENT_CERT/VESSEL_CLIENT_KEY); "
                                     "the server admits it after `vessel trust add CERT` there"));
  for (const auto& f : {r.client_cert, r.client_key})
    if (::access(f.c_str(), R_OK) != 0) return fail_errno("cannot read {}", f);
  if (r.server_fingerprint.empty() && r.server_ca.empty())
    return Unexpected(Error(EINVAL, "--remote needs a way to trust the server")
                          .with_hint("pass --server-fingerprint HEX (STATE_DIR/tls/server.fingerprint on the server) or --server-ca FILE"));
  options.client_cert = r.client_cert;
  options.client_key = r.client_key;
  if (!r.server_fingerprint.empty()) options.pinned_public_key = TRY_CTX(http::public_key_pin(r.server_fingerprint), "--server-fingerprint");
  else options.ca_file = r.server_ca;
  return {};
}

void add_remote_flags(CLI::App& app, Context& ctx) {
  auto& r = ctx.remote;
  if (auto v = env("VESSEL_REMOTE")) r.url = v;
  if (auto v = env("VESSEL_CLIENT_CERT")) r.client_cert = v;
  if (auto v = env("VESSEL_CLIENT_KEY")) r.client_key = v;
  if (auto v = env("VESSEL_SERVER_FINGERPRINT")) r.server_fingerprint = v;
  if (auto v = env("VESSEL_SERVER_CA")) r.server_ca = v;
  app.add_option("--remote", r.url, "talk to vesseld at https://HOST:PORT instead of the socket (env VESSEL_REMOTE)");
  app.add_option("--client-cert", r.client_cert, "--remote: client certificate, PEM (env VESSEL_CLIENT_CERT)");
  app.add_option("--client-key", r.client_key, "--remote: its private key, PEM (env VESSEL_CLIENT_KEY)");
  app.add_option("--server-fingerprint", r.server_fingerprint,
                 "--remote: SHA-256 of the server's public key, from STATE_DIR/tls/server.fingerprint (env VESSEL_SERVER_FINGERPRINT)");
  app.add_option("--server-ca", r.server_ca, "--remote: CA file that signed the server's certificate instead (env VESSEL_SERVER_CA)");
}

void add_trust_commands(CLI::App& app, Context& ctx) {
  auto* trust = app.add_subcommand("trust", "client certificates vesseld accepts on its TLS listeners: add, ls, rm");
  trust->require_subcommand(1);
  trust->footer(
      "Example, with a client key and certificate made by openssl:\n"
      "  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \\\n"
      "      -subj /CN=alice -keyout alice.key -out alice.crt\n"
      "  vessel trust add alice.crt --name alice --role operator   # on the server (Unix socket)\n"
      "  vessel --remote https://server:8443 --client-cert alice.crt --client-key alice.key \\\n"
      "      --server-fingerprint $(cat /var/lib/vessel/tls/server.fingerprint) ls\n\n"
      "Roles: read-only (GET requests: ls, inspect, logs, stats, events, wait), operator (also create, start,\n"
      "stop, rm, exec, console, image import and rm; host paths only under vesseld's --allowed-host-path),\n"
      "admin (everything: the trust store, any host path). The Unix socket is always admin. To change a\n"
      "certificate's role: trust rm, then trust add with the new --role.");
  {
    struct Flags {
      std::string file, name, role = "read-only";
    };
    auto f = std::make_shared<Flags>();
    auto* c = trust->add_subcommand("add", "trust a client certificate (PEM); prints its fingerprint");
    c->add_option("cert", f->file, "the certificate file (PEM)")->required();
    c->add_option("--name", f->name, "a name for it (default: its subject)");
    c->add_option("--role", f->role, "what it may do: read-only, operator or admin")
        ->capture_default_str()
        ->check(CLI::IsMember({"read-only", "operator", "admin"}));
    c->callback([&ctx, f] {
      auto pem = read_file(f->file);
      if (!pem) { ctx.status = report(pem.error()); return; }
      json::Json body = {{"certificate", *pem}};
      if (!f->name.empty()) body["name"] = f->name;
      body["role"] = f->role;
      auto r = ctx.client().call("POST", "/v1/trust", body);
      if (!r) { ctx.status = report(r.error()); return; }
      fmt::print("{}\n", r->value("fingerprint", ""));
    });
  }
  {
    auto as_json = std::make_shared<bool>(false);
    auto* c = trust->add_subcommand("ls", "list trusted client certificates");
    c->alias("list");
    c->add_flag("--json", *as_json, "print JSON");
    c->callback([&ctx, as_json] {
      auto r = ctx.client().call("GET", "/v1/trust");
      if (!r) { ctx.status = report(r.error()); return; }
      if (*as_json) { fmt::print("{}\n", r->dump(2)); return; }
      fmt::print("{:<16}  {:<20}  {:<9}  {:<22}  {}\n", "FINGERPRINT", "NAME", "ROLE", "EXPIRES", "SUBJECT");
      for (const auto& e : *r)
        fmt::print("{:<16}  {:<20}  {:<9}  {:<22}  {}\n", e.value("fingerprint", "").substr(0, 16), e.value("name", ""),
                   e.value("role", ""), e.value("not_after", ""), e.value("subject", ""));
    });
  }
  {
    auto which = std::make_shared<std::vector<std::string>>();
    auto* c = trust->add_subcommand("rm", "stop trusting certificates (by fingerprint, a prefix of 8+ hex digits, or name)");
    c->add_option("which", *which, "fingerprints or names")->required();
    c->callback([&ctx, which] {
      for (const auto& w : *which) {
        auto r = ctx.client().call("DELETE", "/v1/trust/" + escape_segment(w));
        if (!r) ctx.status = report(r.error());
        else fmt::print("{}\n", r->value("fingerprint", ""));
      }
    });
  }
}

}  // namespace vessel::cli
