// An image's HEALTHCHECK (the docker image config's config.Healthcheck), as a health check spec
// (docs/daemon/health.md): Test ["CMD", args...] or ["CMD-SHELL", "cmd"]; ["NONE"] and an empty
// Test mean none. Durations are nanoseconds, 0 meaning Docker's default; Retries 0 likewise.
#pragma once

#include <optional>
#include <string_view>

#include "base/error.h"
#include "base/json.h"
#include "daemon/spec/restart_spec.h"

namespace vessel::daemon {

Result<std::optional<HealthcheckSpec>> parse_image_healthcheck(const json::Json& healthcheck, std::string_view where);

}  // namespace vessel::daemon
