#include "vmm/migration/accept.h"

#include "base/log.h"
#include "vmm/migration/receiver.h"
#include "vmm/migration/url.h"

namespace vessel::vmm::migration {

Result<AcceptedStream> accept_stream(int listener, const AcceptOptions& options) {
  for (int refused = 0;; ++refused) {
    Fd conn = TRY(accept_one(listener, options.cancel_fd));
    FdChannel channel(std::move(conn), options.token ? options.token_timeout : options.peer_timeout, options.cancel_fd);
    auto opened = open_stream(channel, options.token);
    if (opened) {
      channel.set_timeout(options.peer_timeout);
      return AcceptedStream{std::move(channel), *opened, refused};
    }
    if (opened.error().errnum() == ECANCELED) return Unexpected(std::move(opened).error());
    answer_error(channel, opened.error());  // a sender learns why (a stale token, another version)
    if (!options.token) return Unexpected(std::move(opened).error());
    log::warn("migration: closed a connection that did not open with this receiver's token: {}",
              opened.error().to_string());
    if (refused + 1 >= options.max_refused)
      return fail(EACCES, "{} connections came without this receiver's token: giving up", options.max_refused);
  }
}

}  // namespace vessel::vmm::migration
