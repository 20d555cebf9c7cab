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

// A fetch downloads into `images_dir`/.fetch-PID.tar and removes it when done; a vesseld killed
// mid-fetch leaves it. vesseld calls this at start, before any fetch: one vesseld per state
// directory (its lock), so every such file there is stale, whatever PID names it (that PID may
// be alive again as another process). Returns how many were removed.
size_t remove_stale_fetches(const std::string& images_dir);

}  // namespace vessel::daemon
