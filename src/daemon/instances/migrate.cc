// Live migration through vesseld, the manager's half (docs/daemon/migrate.md). The source
// vesseld drives it: it asks the destination vesseld to receive the instance (the same spec
// and name; admission there), has its vessel-vmm send the VM to the destination's listening
// vessel-vmm, then tells the destination to commit (the instance runs there) or abort (it is
// removed there), and forgets the instance only once it runs there. Whatever fails before
// vessel-vmm's hand-over leaves the VM running here, untouched.
#include <arpa/inet.h>
#include <netdb.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <memory>

#include "base/log.h"
#include "http/http.h"
#include "http/public_key_pin.h"
#include "http/upgrade_client.h"
#include "daemon/instances/migration_relay.h"
#include "daemon/instances/manager.h"

namespace vessel::daemon {

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

// How this vesseld reaches the destination's API: its Unix socket (one host), or its TLS port
// (another host) with the destination's public key pinned and this vesseld's own identity
// (STATE/tls, made by --listen) as the client certificate, which the destination trusts as a
// member of its cluster or through `vessel trust add`.
struct PeerApi {
  http::ClientOptions options;
  std::string base;  // "http://localhost" or https://HOST:PORT
  std::string text;  // as errors name it
};

Result<PeerApi> peer_api(const Destination& to, const std::string& state_dir) {
  PeerApi p;
  p.text = to.text();
  if (to.kind != Destination::Kind::Remote) {
    p.options.unix_socket = to.socket;
    p.base = "http://localhost";
    return p;
  }
  std::string cert = state_dir + "/tls/server.crt", key = state_dir + "/tls/server.key";
  if (::access(cert.c_str(), R_OK) != 0 || ::access(key.c_str(), R_OK) != 0)
    return Unexpected(Error(ENOTSUP, fmt::format("this vesseld has no TLS identity to show {}", to.url))
                          .with_hint("start it with --listen tcp://ADDR:PORT; the destination must trust its "
                                     "STATE_DIR/tls/server.crt (vessel trust add --role operator there, or one cluster)"));
  p.options.client_cert = cert;
  p.options.client_key = key;
  p.options.pinned_public_key = TRY_CTX(http::public_key_pin(to.pubkey_sha256), "migrate.destination_pubkey_sha256");
  p.base = to.url;
  return p;
}

// The numeric address of `host` (a name resolved, the first answer): where the destination's
// receiver is to listen, and what this host's vessel-vmm connects to.
Result<std::string> numeric_address(const std::string& host) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &found); rc != 0)
    return fail(EHOSTUNREACH, "cannot resolve {}: {}", host, gai_strerror(rc));
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> list(found, freeaddrinfo);
  char text[INET6_ADDRSTRLEN] = {};
  const void* addr = found->ai_family == AF_INET6 ? static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(found->ai_addr)->sin6_addr)
                                                  : static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(found->ai_addr)->sin_addr);
  if (!::inet_ntop(found->ai_family, addr, text, sizeof text)) return fail_errno("inet_ntop");
  return std::string(text);
}

constexpr const char* kRelaySocket = "migrate-relay.sock";  // a relayed stream's, in the instance's directory

// The stream to the destination's TLS listener at `url` (https://ADDRESS:PORT, its API's key
// pinned, this vesseld's certificate shown), and the socket this host's vessel-vmm sends into, at
// `socket`.
Result<std::unique_ptr<MigrationRelay>> open_relay(const PeerApi& peer, const std::string& url, const std::string& socket) {
  auto stream = TRY_CTX(http::open_tls_stream(peer.options, url), "open the migration stream to {}", url);
  return MigrationRelay::start(socket, std::move(stream), "");
}

// One call to the destination vesseld's API; its {"error", "hint", "errno"} answer as an Error
// with that errno (so that its 409 is ours too).
Result<json::Json> peer_call(const PeerApi& peer, const std::string& method, const std::string& path,
                             const json::Json& body, std::chrono::seconds timeout) {
  http::ClientOptions o = peer.options;
  o.timeout = timeout;
  auto r = http::request(o, method, peer.base + path, body.is_null() ? "" : body.dump());
  if (!r)
    return Unexpected(Error(EHOSTUNREACH, fmt::format("cannot reach the destination vesseld on {}: {}", peer.text,
                                                      r.error().to_string()))
                          .with_hint("is a vesseld listening there (vesseld --socket PATH, or --listen)?"));
  auto j = json::parse(r->body);
  if (r->status >= 300) {
    int errnum = EIO;
    std::string message = r->body.substr(0, 500), hint;
    if (j && j->is_object()) {
      message = j->value("error", message);
      hint = j->value("hint", "");
      if (auto it = j->find("errno"); it != j->end() && it->is_number_integer()) {
        int n = it->get<int>();
        if (n > 0 && n < 4096) errnum = n;
      }
    }
    return Unexpected(Error(errnum, "the destination refused: " + message).with_hint(hint));
  }
  if (r->status == 204 || r->body.empty()) return json::Json::object();
  if (!j) return fail(EPROTO, "the destination's answer to {} {} is not JSON", method, path);
  return *j;
}

}  // namespace

Result<json::Json> Manager::migrate(const std::string& name, const MigrateRequest& request, const MigrateProgress& progress) {
  auto say = [&](json::Json step) {
    if (progress) progress(step);
  };
  auto began = Clock::now();
  const Destination& to = request.destination;
  if (to.kind == Destination::Kind::Local)
    return Unexpected(Error(ENOTSUP, fmt::format("migrate {} to local: a live re-spawn under this vesseld is not built yet", name))
                          .with_hint("migrate it to a second vesseld (--to unix:/PATH/vessel.sock)"));
  auto e = entry(name);
  std::unique_lock lock(e->mutex);
  auto [row, spec] = TRY(load(name));
  auto where = fmt::format("migrate {} to {}", name, to.text());
  TRY_CTX(check_migratable_spec(spec), "{}", where);
  State from = parse_state(row.state).value_or(State::Stopped);
  if (!has_process(from))
    return Unexpected(Error(EBUSY, fmt::format("cannot migrate: instance is {}", row.state))
                          .with_hint("only a running or paused VM is live-migrated; start it first"));
  if (!e->process || !e->process->alive()) return fail(ESRCH, "instance {} has no process", name);
  InstanceContext ctx{spec, dir_of(name), dir_of(name) + "/console.log", cgroup_of(name), spec.log.value_or(config_.log)};
  auto spec_json = TRY(json::parse(row.spec));
  auto boot = TRY_CTX(boot_source(spec, ctx.dir), "{}", where);
  TRY_CTX(check_migratable_disks(name, boot.disks, ctx.dir), "{}", where);

  // 1. The destination makes the instance (409 if the name is taken there) and its receiver:
  // from another host on TCP, at the address this host reaches it by.
  say({{"progress", "prepare"}, {"destination", to.text()}});
  auto goes_on = [&](Error error) {
    std::string hint = fmt::format("{} goes on here", name);
    if (!error.hint().empty()) hint += "; " + error.hint();
    return Unexpected(std::move(error.add_context(where)).with_hint(hint));
  };
  auto peer = peer_api(to, config_.state_dir);
  if (!peer) return goes_on(std::move(peer).error());
  json::Json incoming_request{{"spec", spec_json}};
  if (to.kind == Destination::Kind::Remote) {
    auto address = numeric_address(to.host);
    if (!address) return goes_on(std::move(address).error());
    incoming_request["receive_on"] = *address;
    if (request.stream == MigrationStream::Tls) incoming_request["stream"] = "tls";
  }
  auto prepared = peer_call(*peer, "POST", "/v1/migrations", incoming_request, std::chrono::seconds(90));
  if (!prepared) return goes_on(std::move(prepared).error());
  auto abort_there = [&](const char* why) {
    if (auto a = peer_call(*peer, "POST", "/v1/migrations/" + name + "/abort", nullptr, std::chrono::seconds(30)); !a)
      log::warn("{}: the destination did not abort its incoming instance ({}): {}", where, why, a.error().to_string());
  };
  auto incoming = parse_incoming_answer(json::dump(*prepared));
  if (!incoming || incoming->name != name) {
    abort_there("a bad answer");
    return goes_on(incoming ? Error(EPROTO, "the destination answered for another instance") : incoming.error());
  }
  events_.publish({{"type", "instance-migrating"}, {"name", name}, {"destination", to.text()}});

  // 2. The stream, vessel-vmm to vessel-vmm (through both vesselds' TLS connection when relayed).
  // Its process ends on success: not an exit to record.
  say({{"progress", "send"}, {"url", incoming->url}});
  std::unique_ptr<MigrationRelay> relay;
  std::string url = incoming->url;
  if (!incoming->tls.empty()) {
    auto opened = open_relay(*peer, incoming->tls, ctx.dir + "/" + kRelaySocket);
    if (!opened) {
      abort_there("its stream could not be opened");
      return goes_on(std::move(opened).error());
    }
    relay = std::move(*opened);
    url = "unix:" + relay->path();
  }
  monitor_->unwatch(name);
  auto sent = backend_for(spec).send_migration(ctx, *e->process, url, incoming->token, request.downtime_ms,
                                               request.max_rounds);
  relay.reset();
  if (!sent) {
    monitor_->watch(name, e->process->pidfd.get());
    abort_there("the send failed");
    events_.publish({{"type", "instance-migration-failed"}, {"name", name}, {"destination", to.text()},
                     {"error", sent.error().to_string()}});
    return goes_on(std::move(sent).error());
  }

  // 3. The VM runs there now (its vessel-vmm answered Done): the destination records it running.
  say({{"progress", "commit"}});
  json::Json out = *sent;
  if (auto committed = peer_call(*peer, "POST", "/v1/migrations/" + name + "/commit", nullptr, std::chrono::seconds(60));
      !committed) {
    // Not undone: only the destination runs the VM. It records it when it restarts (reconcile).
    log::warn("{}: the VM runs there, but the destination did not record it: {}", where, committed.error().to_string());
    out["warning"] = "the VM runs on the destination, which did not record it yet: " + committed.error().to_string();
  }
  forget_migrated(*e, spec, to.text());
  lock.unlock();
  {
    std::lock_guard entries(entries_mutex_);
    entries_.erase(name);
  }
  out["name"] = name;
  out["destination"] = to.text();
  out["stream"] = !incoming->tls.empty() ? "tls" : !incoming->token.empty() ? "tcp" : "unix";
  out["daemon_total_ms"] = ms_since(began);  // prepare + stream + commit, through both vesselds
  log::info("{}: done, downtime {} ms, total {:.1f} ms through vesseld", where, out.value("downtime_ms", 0.0),
            ms_since(began));
  return out;
}

void Manager::forget_migrated(Entry& e, const InstanceSpec& spec, const std::string& destination) {
  const std::string& name = spec.name;
  InstanceContext ctx{spec, dir_of(name), dir_of(name) + "/console.log", cgroup_of(name)};
  if (e.process) {
    if (!e.process->wait_exit(std::chrono::seconds(10))) (void)e.process->signal(SIGKILL);
    e.process->wait_exit(std::chrono::seconds(5));
    (void)backend_for(spec).exit_info(ctx, &*e.process);  // reaps its jailer; the relay drains the log
    e.process.reset();
  }
  release(ctx);
  if (auto deleted = store_.delete_instance(name); !deleted)
    log::error("{} migrated to {}, but its record here stays: {}", name, destination, deleted.error().to_string());
  std::error_code ec;
  std::filesystem::remove_all(dir_of(name), ec);
  if (ec) log::warn("cannot remove {}: {}", dir_of(name), ec.message());
  events_.publish({{"type", "instance-migrated"}, {"name", name}, {"destination", destination}});
  events_.publish({{"type", "instance-deleted"}, {"name", name}, {"reason", "migrated"}});
}

Result<json::Json> Manager::receive(const IncomingRequest& request, const std::string& client_cert_sha256) {
  const InstanceSpec& spec = request.spec;
  TRY_CTX(check_migratable_spec(spec), "receive {}", spec.name);
  TRY_CTX(backend_for(spec).preflight(), "receive {}", spec.name);
  // Before the instance's lock: a vesseld asked to receive its own instance (migrating to itself)
  // holds that lock while it waits for this answer.
  if (auto taken = store_.get_instance(spec.name); taken && *taken)
    return fail(EEXIST, "receive {}: an instance named {} already exists", spec.name, spec.name);
  auto e = entry(spec.name);
  std::lock_guard lock(e->mutex);
  // Admission as for a new instance; EEXIST (409) when the name is taken here.
  auto boot = TRY_CTX(create_instance(spec), "receive {}", spec.name);
  InstanceContext ctx{spec, dir_of(spec.name), dir_of(spec.name) + "/console.log", cgroup_of(spec.name),
                      spec.log.value_or(config_.log)};
  // The sender checked its own; the same rule here, against what this side prepared.
  if (auto disks = check_migratable_disks(spec.name, boot.disks, ctx.dir); !disks) {
    drop_incoming(*e, spec, "its disks cannot migrate");
    return Unexpected(std::move(disks).error());
  }
  // Inside TLS the receiver listens on a Unix socket; this vesseld's listener relays to it.
  auto incoming = backend_for(spec).receive_migration(ctx, boot, request.tls ? "" : request.receive_on);
  if (!incoming) {
    drop_incoming(*e, spec, "its receiver did not start");
    return Unexpected(std::move(incoming).error().add_context(fmt::format("receive {}", spec.name)));
  }
  e->process = std::move(incoming->process);
  if (auto recorded = set_state(spec.name, State::Incoming, &*e->process, "migration"); !recorded) {
    drop_incoming(*e, spec, "its state could not be recorded");
    return Unexpected(std::move(recorded).error());
  }
  json::Json answer{{"name", spec.name}, {"url", incoming->url}};
  if (!incoming->token.empty()) answer["token"] = incoming->token;
  if (request.tls) {
    auto stream = IncomingTlsStream::start(request.receive_on, config_.state_dir, client_cert_sha256,
                                           incoming->url.substr(5), spec.name);  // unix:PATH
    if (!stream) {
      drop_incoming(*e, spec, "its TLS stream could not listen");
      return Unexpected(std::move(stream).error());
    }
    answer["url"] = tcp_url(request.receive_on, (*stream)->port()).replace(0, 3, "tls");
    e->incoming_stream = std::move(*stream);
    log::info("{}: receiving a live migration inside TLS on {} (its receiver on {})", spec.name,
              answer.value("url", ""), incoming->url);
  } else {
    log::info("{}: receiving a live migration on {}", spec.name, incoming->url);
  }
  return answer;
}

Result<json::Json> Manager::finish_incoming(const std::string& name, bool commit) {
  auto e = entry(name);
  std::lock_guard lock(e->mutex);
  auto [row, spec] = TRY(load(name));
  if (row.state != to_string(State::Incoming))
    return Unexpected(Error(EBUSY, fmt::format("{} is {}: no migration is arriving", name, row.state)));
  if (!e->process) {
    auto adopted = GuestProcess::adopt(static_cast<pid_t>(row.pid), row.pid_start);
    if (adopted) e->process = std::move(*adopted);
  }
  e->incoming_stream.reset();  // the stream has ended, or is cut now
  if (!commit || !e->process || !e->process->alive()) {
    drop_incoming(*e, spec, commit ? "its vessel-vmm ended" : "the migration was aborted");
    if (commit) return fail(EIO, "{}: the receiving vessel-vmm ended; see the destination's log", name);
    return json::Json{{"name", name}, {"state", "deleted"}};
  }
  InstanceContext ctx{spec, dir_of(name), dir_of(name) + "/console.log", cgroup_of(name)};
  // The receiver runs the VM only after its hand-over (Done): then it answers its API.
  auto state = TRY_CTX(backend_for(spec).probe(ctx, *e->process), "commit the migration of {}", name);
  TRY(set_state(name, state, &*e->process, "migrated in"));
  monitor_->watch(name, e->process->pidfd.get());
  events_.publish({{"type", "instance-migrated-in"}, {"name", name}, {"state", std::string(to_string(state))}});
  auto now = TRY(store_.get_instance(name));
  if (!now) return fail(ENOENT, "no instance named {}", name);
  return describe(*now);
}

void Manager::drop_incoming(Entry& e, const InstanceSpec& spec, const char* why) {
  InstanceContext ctx{spec, dir_of(spec.name), dir_of(spec.name) + "/console.log", cgroup_of(spec.name)};
  e.incoming_stream.reset();
  if (e.process) {
    (void)e.process->signal(SIGKILL);
    e.process->wait_exit(std::chrono::seconds(5));
    (void)backend_for(spec).exit_info(ctx, &*e.process);
    e.process.reset();
  }
  release(ctx);
  (void)store_.delete_instance(spec.name);
  std::error_code ec;
  std::filesystem::remove_all(dir_of(spec.name), ec);
  log::info("{}: incoming instance removed: {}", spec.name, why);
  events_.publish({{"type", "instance-deleted"}, {"name", spec.name}, {"reason", why}});
}

void Manager::reconcile_incoming(const InstanceRow& row, const InstanceSpec& spec) {
  auto e = entry(row.name);
  std::lock_guard lock(e->mutex);
  InstanceContext ctx{spec, dir_of(row.name), dir_of(row.name) + "/console.log", cgroup_of(row.name)};
  if (auto proc = GuestProcess::adopt(static_cast<pid_t>(row.pid), row.pid_start)) {
    if (auto state = backend_for(spec).probe(ctx, *proc)) {
      // It was handed over before vesseld went down: it runs here.
      if (set_state(row.name, *state, &*proc, "migrated in (reconcile)")) {
        monitor_->watch(row.name, proc->pidfd.get());
        e->process = std::move(*proc);
        log::info("adopted {} {} (pid {}), migrated in while vesseld was down", row.type, row.name, row.pid);
        return;
      }
    }
    e->process = std::move(*proc);
  }
  drop_incoming(*e, spec, "its migration was cut by a vesseld restart");
}

}  // namespace vessel::daemon
