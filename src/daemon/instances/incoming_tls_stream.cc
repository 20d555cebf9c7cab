#include "daemon/instances/incoming_tls_stream.h"

#include "base/log.h"
#include "base/unix_socket.h"

namespace vessel::daemon {

Result<std::unique_ptr<IncomingTlsStream>> IncomingTlsStream::start(const std::string& address,
                                                                    const std::string& state_dir,
                                                                    const std::string& client_cert_sha256,
                                                                    const std::string& receiver,
                                                                    const std::string& name) {
  if (client_cert_sha256.empty())
    return Unexpected(Error(EPERM, "a migration stream inside TLS is for a source that called over TLS with its certificate")
                          .with_hint("the source vesseld calls this one's --listen address"));
  http::TlsStreamOptions options{state_dir + "/tls/server.crt", state_dir + "/tls/server.key", client_cert_sha256};
  auto listener = TRY_CTX(http::TlsStreamListener::listen(address, options), "the TLS stream of {}", name);
  std::unique_ptr<IncomingTlsStream> stream(new IncomingTlsStream(std::move(listener)));
  stream->thread_ = std::thread([l = stream->listener_.get(), receiver, name] {
    auto served = l->serve([&] { return unix_socket::connect(receiver); });
    if (!served) log::warn("{}: the migration stream inside TLS: {}", name, served.error().to_string());
    else if (*served > 0) log::warn("{}: the migration stream refused {} connections without the source's certificate", name, *served);
  });
  return stream;
}

IncomingTlsStream::~IncomingTlsStream() {
  listener_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace vessel::daemon
