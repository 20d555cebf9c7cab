// A clustered instance's local copy (docs/cluster.md#desired-state): the spec a node creates from
// the cluster's record, marked with the generation it was made for. The copy's own restart policy
// is "no": restarts are the cluster's (the reconciler's), so that a vesseld that comes back after
// its instance moved never restarts the old copy by itself.
#pragma once

#include <cstdint>
#include <optional>

#include "base/json.h"

namespace vessel::daemon {

inline constexpr const char* kClusterGenerationLabel = "vessel.cluster.generation";

// The generation a local spec (JSON, as stored) was made for; nullopt when it is not a clustered copy.
std::optional<int64_t> cluster_generation(const json::Json& spec);
// The local copy's spec: the record's spec with the generation label and no restart policy.
json::Json cluster_copy_spec(const json::Json& spec, int64_t generation);

}  // namespace vessel::daemon
