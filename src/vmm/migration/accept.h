// Which connection to a receiver becomes the migration stream. Without a token (a Unix socket
// that only the sender's jail reaches) the first one. With a token (TCP, from another host, where
// anyone may connect first) the first one that opens with it: the others are closed, each after
// at most `token_timeout`, and the wait goes on, up to `max_refused` of them. A connection
// refused is answered an Error message with the reason first (best effort).
#pragma once

#include <chrono>

#include "vmm/migration/channel.h"
#include "vmm/migration/token.h"

namespace vessel::vmm::migration {

struct AcceptOptions {
  const Token* token = nullptr;
  std::chrono::milliseconds peer_timeout{10'000};  // the stream's, once accepted
  std::chrono::milliseconds token_timeout{2'000};  // for a connection to send the preamble and Token
  int max_refused = 64;
  int cancel_fd = -1;  // readable: give up waiting (ECANCELED)
};

struct AcceptedStream {
  FdChannel channel;
  uint64_t opened_bytes = 0;  // the preamble's (and Token's), already read
  int refused = 0;            // connections closed for want of the token
};

Result<AcceptedStream> accept_stream(int listener, const AcceptOptions& options);

}  // namespace vessel::vmm::migration
