// Live migration of a VM, the backend's half (docs/daemon/migrate.md): the receiving vessel-vmm
// is started like a resumed one (vm_suspend.cc) but with --migrate-from on a Unix socket in its
// run directory; the sending one gets PUT /migration/send to that socket. Both VMMs are jailed
// in their own mount namespaces, so the receiver's socket is hard-linked into the sender's run
// directory (which its jail sees as /vessel-run) and given to the sender's uid: a Unix socket is
// reached through any link to it, and no other process can see either directory (0700, the
// VMs' uids).
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <thread>

#include "base/log.h"
#include "http/http.h"
#include "daemon/instances/vm_backend.h"

namespace vessel::daemon {

namespace {

constexpr const char* kReceiveSocket = "migrate.sock";   // the receiver's, in its run directory
constexpr const char* kSendSocket = "migrate-out.sock";  // the link to it, in the sender's

bool is_socket(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

}  // namespace

Result<IncomingGuest> VmBackend::receive_migration(const InstanceContext& ctx, const BootSource& boot) {
  std::string run_in = jail_.enabled ? std::string(kJailRunDir) : ctx.dir + "/run";
  auto proc = TRY(launch(ctx, boot, false, {"--migrate-from", "unix:" + run_in + "/" + kReceiveSocket}));
  // vessel-vmm opens its API socket (which launch() waited for), then listens for the stream.
  std::string host = ctx.dir + "/run/" + kReceiveSocket;
  for (int i = 0; i < 1000 && !is_socket(host); ++i) {
    if (!proc.alive()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!is_socket(host)) {
    (void)proc.signal(SIGKILL);
    proc.wait_exit(std::chrono::seconds(5));
    cleanup(ctx);
    return fail(EIO, "{} did not listen for the migration on {}; see {}", vmm_, host, ctx.log_path);
  }
  return IncomingGuest{std::move(proc), "unix:" + host};
}

Result<json::Json> VmBackend::send_migration(const InstanceContext& ctx, const GuestProcess&, const std::string& url,
                                             uint32_t downtime_ms, uint32_t max_rounds) {
  if (!url.starts_with("unix:/")) return fail(EINVAL, "migration to {}: only unix: URLs on this host", url);
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
  http::ClientOptions options;
  options.unix_socket = vm_run_file(ctx.dir, "vmm.sock");
  if (!is_socket(options.unix_socket)) return fail(EPERM, "{} is not a socket", options.unix_socket);
  // The request blocks until the migration has ended: pre-copy rounds of all of RAM.
  options.timeout = std::chrono::minutes(30);
  json::Json body = {{"destination_url", "unix:" + run_in + "/" + kSendSocket},
                     {"downtime_ms", downtime_ms},
                     {"max_rounds", max_rounds}};
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
