#include "daemon/instances/migration_relay.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/socket_relay.h"
#include "base/unix_socket.h"

namespace vessel::daemon {

Result<std::unique_ptr<MigrationRelay>> MigrationRelay::start(const std::string& path, Fd stream, std::string early) {
  Fd listener = TRY(unix_socket::listen(path, {.mode = 0600, .backlog = 1}));
  int wake = ::eventfd(0, EFD_CLOEXEC);
  if (wake < 0) return fail_errno("eventfd");
  std::unique_ptr<MigrationRelay> relay(new MigrationRelay(path, std::move(listener), std::move(stream), Fd(wake)));
  relay->thread_ = std::thread(&MigrationRelay::run, relay.get(), std::move(early));
  return relay;
}

void MigrationRelay::run(std::string early) {
  pollfd p[2] = {{listener_.get(), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
  for (;;) {
    if (::poll(p, 2, -1) < 0 && errno != EINTR) return;
    if (p[1].revents) return;
    if (p[0].revents & POLLIN) break;
  }
  Fd vmm(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!vmm) return;
  if (!early.empty() && !unix_socket::send_all(vmm.get(), early)) return;
  unix_socket::relay_until_closed(vmm.get(), stream_.get());
}

MigrationRelay::~MigrationRelay() {
  uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof one);
  ::shutdown(stream_.get(), SHUT_RDWR);
  if (thread_.joinable()) thread_.join();
  ::unlink(path_.c_str());
}

}  // namespace vessel::daemon
