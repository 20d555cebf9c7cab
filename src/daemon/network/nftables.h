// Applies nft-language text through libnftables (one transaction per call: all or nothing).
#pragma once

#include <string>

#include "base/error.h"

namespace vessel::daemon {

// EIO with nft's own message when the kernel or the parser refuses the text.
Result<void> nft_apply(const std::string& commands);

}  // namespace vessel::daemon
