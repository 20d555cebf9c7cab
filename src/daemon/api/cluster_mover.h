// Moving clustered instances between nodes by hand (docs/cluster.md#drain-and-migrate): `vessel
// migrate NAME --to NODE` and `vessel cluster drain NODE`. A move is ordered, unlike failover:
//   1. the record says stopped, and the old node's copy is seen stopped (skipped when the old node
//      is not ready: its copy was fenced or died with it);
//   2. one compare-and-swap writes the new node and the next generation (and the user's own
//      stopped state back): the old node removes its copy, the new one creates and starts it;
//   3. the new node's copy is seen running at that generation.
// So the old copy has stopped before the new one starts; what is in the instance's directory stays
// behind. A running VM on nodes that reach each other by Unix socket (one host) moves live instead,
// by vessel migrate's live migration (docs/daemon/migrate.md), at the same generation (the same
// guest): the record says `moving_to` while it goes (both nodes leave the copy alone), then one
// compare-and-swap names the new node. When the live migration fails (the VM runs on where it
// was), the cold move follows.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "base/json.h"
#include "cluster/instance_record.h"
#include "cluster/membership.h"
#include "daemon/api/progress_stream.h"
#include "daemon/api/progress_stream.h"
#include "daemon/instances/manager.h"

namespace vessel::daemon {

class ClusterMover {
 public:
  ClusterMover(const cluster::Membership& member, Manager& manager) : member_(member), manager_(manager) {}

  // What `node` says about the instance (GET /v1/instances/NAME there), ENOENT when it has no copy.
  Result<json::Json> observe(const std::string& node, const std::string& name) const;
  // Observes until `done` holds (checked on ENOENT too, with a null view), at most `timeout`.
  Result<json::Json> wait_for(const std::string& node, const std::string& name,
                              const std::function<bool(const json::Json& view)>& done,
                              std::chrono::milliseconds timeout) const;

  // Moves it to `to` ("": where the placement rules and the spread policy say). The report:
  // {"name", "from", "to", "generation", "seconds"}.
  Result<json::Json> move(const std::string& name, const std::string& to, const PushStep& step) const;
  // Cordons `node`, then moves each of its instances, one after another:
  // {"node", "moved": [reports], "failed": [{"name", "error"}], "seconds"}.
  Result<json::Json> drain(const std::string& node, const PushStep& step) const;

 private:
  Result<std::string> choose(const cluster::InstanceRecord& record, const std::string& to) const;
  // The live move of a running VM; its error when it did not happen (the VM is where it was).
  Result<json::Json> move_live(const cluster::InstanceRecord& record, const std::string& to, const PushStep& step) const;

  const cluster::Membership& member_;
  Manager& manager_;
};

// Whether a view (GET /v1/instances/NAME) shows a guest process: running or paused.
bool view_has_process(const json::Json& view);

}  // namespace vessel::daemon
