#include "cli/upgrade.h"

#include "cli/client.h"
#include "cli/remote.h"
#include "stream/frames.h"

namespace vessel::cli {

Result<UpgradedConnection> open_upgraded(const std::string& socket, const Remote& remote, const std::string& method,
                                         const std::string& path, const std::string& body) {
  if (!remote.url.empty()) {
    http::ClientOptions options;
    TRY(remote_options(remote, options));
    auto answer = TRY(http::open_upgrade_tls(options, remote.url, method, path, frames::kUpgradeProtocol, body));
    if (answer.status == 101) return UpgradedConnection{std::move(answer.fd), std::move(answer.rest)};
    return Unexpected(error_from_response(answer.status, answer.rest));
  }
  auto answer = http::open_upgrade(socket, method, path, frames::kUpgradeProtocol, body);
  if (!answer) {
    if (answer.error().errnum() == EPROTO) return Unexpected(answer.error());
    return Unexpected(Error::system(answer.error().errnum(), fmt::format("cannot reach vesseld at {}", socket))
                          .with_hint("is vesseld running? start it (systemctl start vesseld) or pass --socket / set VESSEL_SOCKET"));
  }
  if (answer->status == 101) return UpgradedConnection{std::move(answer->fd), std::move(answer->rest)};
  return Unexpected(error_from_response(answer->status, answer->rest));
}

}  // namespace vessel::cli
