// Live migration of a VM, the backend's half (docs/daemon/migrate.md): the receiving vessel-vmm
// is started like a resumed one (vm_suspend.cc) but with --migrate-from on a Unix socket in its
// run directory; the sending one gets PUT /migration/send to that socket. Both VMMs are jailed
// in their own mount namespaces, so the receiver's socket is hard-linked into the sender's run
// directory (which its jail sees as /vessel-run) and given to the sender's uid: a Unix socket is
// reached through any link to it, and no other process can see either directory (0700, the
// VMs' uids). From another host the receiver listens on TCP instead, on a port of the address
// the source reached this host by, and the sender connects there (the jailed VMMs of VMs without
// a network share vesseld's network namespace).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <sstream>
#include <thread>

#include "base/fd.h"
#include "base/log.h"
#include "base/random_hex.h"
#include "http/http.h"
#include "daemon/instances/migrate_request.h"
#include "daemon/instances/vm_backend.h"

namespace vessel::daemon {

namespace {

constexpr const char* kReceiveSocket = "migrate.sock";   // the receiver's, in its run directory
constexpr const char* kSendSocket = "migrate-out.sock";  // the link to it, in the sender's

bool is_socket(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

// A TCP port free on `address` now: the kernel's choice for a socket bound to port 0. Another
// process may take it before vessel-vmm binds it; then the receiver fails to start and the
// migration is refused, the VM going on at the source.
Result<uint16_t> free_port(const std::string& address) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (address.find(':') == std::string::npos) {
    auto* in = reinterpret_cast<sockaddr_in*>(&ss);
    in->sin_family = AF_INET;
    if (::inet_pton(AF_INET, address.c_str(), &in->sin_addr) != 1) return fail(EINVAL, "'{}' is not an IPv4 address", address);
    len = sizeof(sockaddr_in);
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
    in6->sin6_family = AF_INET6;
    if (::inet_pton(AF_INET6, address.c_str(), &in6->sin6_addr) != 1) return fail(EINVAL, "'{}' is not an IPv6 address", address);
    len = sizeof(sockaddr_in6);
  }
  Fd fd(::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return fail_errno("socket");
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0)
    return Unexpected(Error::from_errno(fmt::format("bind {}", address))
                          .with_hint("the source names the address it reached this vesseld by: it must be this host's"));
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len) != 0) return fail_errno("getsockname");
  return ntohs(ss.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&ss)->sin_port
                                       : reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
}

// Whether `pid`'s network namespace has a TCP socket listening on `port` (/proc/PID/net/tcp{,6}:
// the local address's port in hex, state 0A). Connecting to find out would take the receiver's
// only connection.
bool tcp_listening(pid_t pid, uint16_t port) {
  char want[8];
  std::snprintf(want, sizeof want, ":%04X", port);
  for (const char* table : {"tcp", "tcp6"}) {
    auto text = read_file(fmt::format("/proc/{}/net/{}", pid, table));
    if (!text) continue;
    std::istringstream lines(*text);
    std::string line, slot, local, remote, state;
    while (std::getline(lines, line)) {
      std::istringstream fields(line);
      if ((fields >> slot >> local >> remote >> state) && state == "0A" && local.ends_with(want)) return true;
    }
  }
  return false;
}

// Waits (10 s at most) for the receiver to listen, at `ready()`; kills it and cleans up if not.
Result<void> wait_for_receiver(GuestProcess& proc, const std::function<bool()>& ready, const InstanceContext& ctx,
                               const std::string& where, const std::string& vmm, VmBackend& backend) {
  for (int i = 0; i < 1000 && !ready(); ++i) {
    if (!proc.alive()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (ready()) return {};
  (void)proc.signal(SIGKILL);
  proc.wait_exit(std::chrono::seconds(5));
  backend.cleanup(ctx);
  return fail(EIO, "{} did not listen for the migration on {}; see {}", vmm, where, ctx.log_path);
}

}  // namespace

Result<std::vector<std::string>> VmBackend::place_token(const InstanceContext& ctx, const std::string& token) {
  std::string path = ctx.dir + "/run/" + kMigrationTokenFile;
  Fd fd = TRY(Fd::open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  TRY_CTX(write_all(fd.get(), token + "\n"), "write {}", path);
  std::string in = jail_.enabled ? std::string(kJailRunDir) : ctx.dir + "/run";
  return std::vector<std::string>{"--migrate-token-file", in + "/" + kMigrationTokenFile};
}

Result<IncomingGuest> VmBackend::receive_migration(const InstanceContext& ctx, const BootSource& boot,
                                                   const std::string& receive_on) {
  if (!receive_on.empty()) {
    // From another host: anyone may reach the port, so the receiver takes only a sender that
    // sends this token first (the source gets it over TLS, in this vesseld's answer).
    std::string token = random_hex(kMigrationTokenBytes);
    uint16_t port = TRY(free_port(receive_on));
    std::string url = tcp_url(receive_on, port);
    auto proc = TRY(launch(ctx, boot, false, {"--migrate-from", url}, token));
    pid_t pid = proc.pid;
    TRY(wait_for_receiver(proc, [&] { return tcp_listening(pid, port); }, ctx, url, vmm_, *this));
    ::unlink((ctx.dir + "/run/" + kMigrationTokenFile).c_str());  // read: the secret lives in the VMM only
    return IncomingGuest{std::move(proc), url, token};
  }
  std::string run_in = jail_.enabled ? std::string(kJailRunDir) : ctx.dir + "/run";
  auto proc = TRY(launch(ctx, boot, false, {"--migrate-from", "unix:" + run_in + "/" + kReceiveSocket}));
  // vessel-vmm opens its API socket (which launch() waited for), then listens for the stream.
  std::string host = ctx.dir + "/run/" + kReceiveSocket;
  TRY(wait_for_receiver(proc, [&] { return is_socket(host); }, ctx, host, vmm_, *this));
  return IncomingGuest{std::move(proc), "unix:" + host};
}

Result<json::Json> VmBackend::send_migration(const InstanceContext& ctx, const GuestProcess&, const std::string& url,
                                             const std::string& token, uint32_t downtime_ms, uint32_t max_rounds) {
  if (url.starts_with("tcp:")) return send_to(ctx, url, token, downtime_ms, max_rounds);  // another host
  if (!url.starts_with("unix:/")) return fail(EINVAL, "migration to {}: expected unix:PATH or tcp:ADDRESS:PORT", url);
  std::string target = url.substr(5);
  if (!is_socket(target)) return fail(ENOENT, "the destination's migration socket {} is not there", target);
  std::string link = ctx.dir + "/run/" + kSendSocket;
  ::unlink(link.c_str());
  if (::link(target.c_str(), link.c_str()) != 0) {
    if (errno == EXDEV)
      return Unexpected(Error(EXDEV, fmt::format("link {} into {}", target, link))
                            .with_hint("the two vesselds' state directories must be on one filesystem"));
    return fail_errno("link {} to {}", link, target);
  }
  struct Unlink {
    std::string path;
    ~Unlink() { ::unlink(path.c_str()); }
  } unlink_after{link};
  std::string run_in = ctx.dir + "/run";
  if (jail_.enabled) {
    // The sending VMM runs as the VM's uid: connect() needs write permission on the socket.
    uid_t id = TRY(acquire_jail_id(jail_, ctx.spec.name));
    if (::chown(link.c_str(), id, id) != 0) return fail_errno("chown {}", link);
    run_in = kJailRunDir;
  }
  return send_to(ctx, "unix:" + run_in + "/" + kSendSocket, token, downtime_ms, max_rounds);
}

// PUT /migration/send to the VM's vessel-vmm: blocks until the migration has ended.
Result<json::Json> VmBackend::send_to(const InstanceContext& ctx, const std::string& destination_url,
                                      const std::string& token, uint32_t downtime_ms, uint32_t max_rounds) {
  http::ClientOptions options;
  options.unix_socket = vm_run_file(ctx.dir, "vmm.sock");
  if (!is_socket(options.unix_socket)) return fail(EPERM, "{} is not a socket", options.unix_socket);
  // The request blocks until the migration has ended: pre-copy rounds of all of RAM.
  options.timeout = std::chrono::minutes(30);
  json::Json body = {{"destination_url", destination_url}, {"downtime_ms", downtime_ms}, {"max_rounds", max_rounds}};
  if (!token.empty()) body["token"] = token;
  auto sent = http::request(options, "PUT", "http://localhost/migration/send", body.dump());
  if (!sent) return Unexpected(std::move(sent).error().add_context("vessel-vmm API PUT /migration/send"));
  const http::ClientResponse& r = *sent;
  auto answer = json::parse(r.body);
  if (r.status >= 300) {
    std::string why = r.body;
    if (answer && answer->is_object() && answer->contains("fault_message")) why = answer->value("fault_message", why);
    return fail(EIO, "{}", why);
  }
  if (!answer || !answer->is_object()) return fail(EPROTO, "vessel-vmm's migration report is not a JSON object");
  return *answer;
}

}  // namespace vessel::daemon
