// Images distributed between nodes (docs/cluster.md#images): a node assigned a clustered instance
// whose image it lacks fetches the image from a ready peer that has it, through that peer's API
// (GET /v1/images/NAME for its ID, POST /v1/images/save for the docker-archive), imports it into
// its own store and checks that its ID (the config's digest) and layers are the peer's before
// anything is created from it.
#pragma once

#include <string>

#include "base/error.h"
#include "cluster/membership.h"
#include "daemon/images/image_store.h"

namespace vessel::daemon {

// Nothing to do when `image` is here already. ENOENT (with a hint) when no ready node has it;
// the peers tried and why each failed are in the error.
Result<void> fetch_image_from_peers(ImageStore& images, const cluster::Membership& member, const std::string& image);

}  // namespace vessel::daemon
