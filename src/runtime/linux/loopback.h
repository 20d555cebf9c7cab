// The loopback interface of a network namespace the runtime created: the kernel makes it DOWN,
// and a process talking to itself on 127.0.0.1 then gets "Network is unreachable".
#pragma once

#include "base/error.h"

namespace vessel::runtime {

// Sets `lo` UP in the calling thread's network namespace (needs CAP_NET_ADMIN there).
Result<void> bring_up_loopback();

}  // namespace vessel::runtime
