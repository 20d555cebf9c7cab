// `vessel ls` in a cluster (docs/cluster.md#desired-state): the instances other nodes run, as those
// nodes see them (state, pid, exit status), asked of each node once (GET /v1/instances there, in
// parallel, marked forwarded so that it answers only its own); a node not ready or not answering
// within 2 s leaves its instances as their records say (state remote).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "base/json.h"
#include "cluster/instance_record.h"
#include "cluster/membership.h"

namespace vessel::daemon {

// name -> the view of the node that runs it, for the records whose copy that node runs at the
// record's generation.
std::map<std::string, json::Json> live_views(const cluster::Membership& self,
                                             const std::vector<const cluster::InstanceRecord*>& records);

}  // namespace vessel::daemon
