// Reaching vesseld over TCP with TLS client certificates: checking the CLI's remote settings and
// turning them into libcurl options (client certificate, pinned server key or CA file).
#pragma once

#include "base/error.h"
#include "http/http.h"
#include "cli/client.h"

namespace vessel::cli {

// EINVAL with a hint when the settings are incomplete (no certificate, no way to trust the server).
Result<void> remote_options(const Remote& remote, http::ClientOptions& options);

}  // namespace vessel::cli
