// vessel migrate NAME --to DEST (docs/daemon/migrate.md): live migration of a running VM to
// another vesseld, driven by this one; prints its steps, then downtime, total time and bytes.
// --to NODE moves a clustered instance (commands_cluster_moves.cc).
#include <unistd.h>

#include "cli/commands.h"
#include "cli/local_path.h"
#include "http/public_key_pin.h"

namespace vessel::cli {

namespace {

// A destination socket given relative to the CLI's directory becomes absolute; `local`, `unix:`
// and URLs go as given (vesseld checks them).
std::string destination_of(const std::string& to) {
  if (to.empty() || to == "local" || to[0] == '/' || to.find(':') != std::string::npos) return to;
  return absolute_path(to);
}

const char* step_text(const std::string& step) {
  if (step == "prepare") return "asking the destination to receive it";
  if (step == "send") return "sending memory and state";
  if (step == "commit") return "the VM runs on the destination; recording it there";
  return nullptr;
}

std::string summary(const std::string& name, const json::Json& r) {
  double mib = static_cast<double>(r.value("bytes", uint64_t{0})) / (1 << 20);
  std::string out = fmt::format("{} migrated to {}: downtime {:.2f} ms, total {:.1f} ms ({:.1f} ms through vesseld), "
                                "{:.1f} MiB in {} rounds",
                                name, r.value("destination", std::string("?")), r.value("downtime_ms", 0.0),
                                r.value("total_ms", 0.0), r.value("daemon_total_ms", 0.0), mib, r.value("rounds", 0));
  if (r.contains("warning")) out += "\nwarning: " + r.value("warning", std::string());
  return out;
}

}  // namespace

void add_migrate_command(CLI::App& app, Context& ctx) {
  struct Flags {
    std::string name, to, to_fingerprint, stream;
    uint32_t downtime_ms = 50, max_rounds = 16;
    bool json = false, quiet = false;
  };
  auto f = std::make_shared<Flags>();
  auto* c = app.add_subcommand("migrate",
                               "live-migrate a running VM to another vesseld: it goes on there where it was, "
                               "and leaves this one; or move a clustered instance to another node");
  c->add_option("name", f->name, "the VM, or the clustered instance")->required();
  c->add_option("--to", f->to,
                "the destination vesseld: its socket (unix:/PATH, /PATH or ./PATH, on this host), or its TLS API on "
                "another host (https://HOST:PORT, with --to-fingerprint); or, for an instance run with --cluster-wide, "
                "a node of the cluster (NODE, see below); `local` (a live re-spawn under this vesseld) is not built yet")
      ->required();
  c->add_option("--to-fingerprint", f->to_fingerprint,
                "with --to https://...: the SHA-256 of the destination's public key (its STATE_DIR/tls/server.fingerprint), "
                "pinned by this vesseld; the destination must trust this vesseld's STATE_DIR/tls/server.crt "
                "(vessel trust add --role operator there)");
  c->add_option("--stream", f->stream,
                "with --to https://...: how the memory goes there. tls (the default): through the two vesselds' "
                "TLS connection, encrypted and authenticated; tcp: from vessel-vmm to vessel-vmm over plain TCP, "
                "faster but readable on the path (the receiver takes only the sender that shows its one-time token)")
      ->check(CLI::IsMember({"tls", "tcp"}));
  c->add_option("--downtime-ms", f->downtime_ms, "the pause to aim for, 1-60000 ms")->capture_default_str();
  c->add_option("--max-rounds", f->max_rounds, "dirty-page rounds before the VM is paused anyway, 0-1000")
      ->capture_default_str();
  c->add_flag("--json", f->json, "print the migration's report as JSON");
  c->add_flag("--quiet,-q", f->quiet, "no progress lines");
  c->footer("Example: vessel migrate vm1 --to /run/vessel-b/vessel.sock\n"
            "         vessel migrate vm1 --to https://10.0.0.2:8443 --to-fingerprint $(ssh b cat /var/lib/vessel/tls/server.fingerprint)\n"
            "The VM keeps running here when anything fails before the hand-over. To another host, the memory goes\n"
            "inside the vesselds' TLS connection; --stream tcp sends it over plain TCP instead (as QEMU's and Cloud\n"
            "Hypervisor's without TLS): faster, for a network you trust.\n"
            "A clustered instance (vessel run --cluster-wide), container or VM, moves to a node by name:\n"
            "  vessel migrate web --to node-3\n"
            "from any member: its copy is stopped on its node, the record names node-3 at the next generation\n"
            "(one compare-and-swap in etcd), and node-3 starts it. Not live: it starts again there, and what is\n"
            "in its directory stays behind. --downtime-ms and --max-rounds do not apply.");
  c->callback([&ctx, f] {
    if (is_node_name(f->to)) {  // a clustered instance to another node (docs/cluster.md#drain-and-migrate)
      ctx.status = migrate_to_node(ctx, f->name, f->to, f->json, f->quiet);
      return;
    }
    auto client = ctx.client();
    json::Json body{{"destination", destination_of(f->to)}, {"downtime_ms", f->downtime_ms}, {"max_rounds", f->max_rounds}};
    if (!f->to_fingerprint.empty()) {
      auto hex = http::normalized_sha256(f->to_fingerprint);
      if (!hex) {
        ctx.status = report(Error(hex.error()).add_context("--to-fingerprint"));
        return;
      }
      body["destination_pubkey_sha256"] = *hex;
    }
    if (!f->stream.empty()) body["stream"] = f->stream;
    std::string pending;
    std::optional<json::Json> result;
    std::optional<Error> error;
    bool say = !f->quiet && !f->json;
    auto r = client.stream("POST", "/v1/instances/" + escape_segment(f->name) + "/migrate?progress=1", body.dump(),
                           [&](std::string_view d) {
                             pending.append(d);
                             size_t nl;
                             while ((nl = pending.find('\n')) != std::string::npos) {
                               auto line = json::parse(pending.substr(0, nl));
                               pending.erase(0, nl + 1);
                               if (!line || !line->is_object()) continue;
                               if (line->contains("progress") && say)
                                 if (const char* t = step_text(line->value("progress", std::string())))
                                   fmt::print(stderr, "{}: {}\n", f->name, t);
                               if (line->contains("result")) result = (*line)["result"];
                               if (line->contains("error")) error = error_from_response(400, line->dump());
                             }
                             return true;
                           });
    if (!r) {
      ctx.status = report(r.error());
      return;
    }
    if (error) {
      ctx.status = report(*error);
      return;
    }
    if (!result) {
      ctx.status = report(Error(EIO, "vesseld ended the migration's answer without a result; see `vessel ls` on both"));
      return;
    }
    if (f->json) fmt::print("{}\n", json::dump(*result));
    else fmt::print("{}\n", summary(f->name, *result));
  });
}

}  // namespace vessel::cli
