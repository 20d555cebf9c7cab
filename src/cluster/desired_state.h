// The clustered instances' desired state in etcd (instance_record.h): created, read, placed and
// removed, every change a compare-and-swap transaction on the key's mod revision, so that two
// writers (two API calls, a scheduler and a user) never overwrite each other unseen.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "cluster/etcd_client.h"
#include "cluster/instance_record.h"

namespace vessel::cluster {

struct InstanceList {
  std::vector<InstanceRecord> records;  // by name
  int64_t revision = 0;                 // etcd's revision when read: a watch goes on from revision + 1
};

class DesiredState {
 public:
  explicit DesiredState(const etcd::Client& etcd) : etcd_(etcd) {}

  // Stores a new record (unplaced: node "", generation 0); EEXIST when the name is taken.
  Result<InstanceRecord> create(InstanceRecord record) const;
  Result<std::optional<InstanceRecord>> get(const std::string& name) const;
  // Every record; bad ones (another node's bug) are skipped with a warning.
  Result<InstanceList> list() const;
  // `record` (as read) now runs on `node` with the next generation, if nobody changed it since and
  // every guard holds (the scheduler's leadership). nullopt: it lost the race; read again.
  Result<std::optional<InstanceRecord>> place(const InstanceRecord& record, const std::string& node,
                                              const std::vector<etcd::Compare>& guards = {}) const;
  // Writes `record` as changed by the caller if nobody changed it since it was read (nullopt
  // otherwise: read again). The generation is the caller's: a move sets node and generation + 1.
  Result<std::optional<InstanceRecord>> replace(const InstanceRecord& record) const;
  // Reads, changes and writes `name` until it is written unchanged by others (a few tries, then
  // ESTALE). `change` may refuse (its error is returned); ENOENT when there is no such record.
  Result<InstanceRecord> update(const std::string& name,
                                const std::function<Result<void>(InstanceRecord&)>& change) const;
  // Removes the record if unchanged since read (ESTALE otherwise: read again).
  Result<void> remove(const InstanceRecord& record) const;

 private:
  const etcd::Client& etcd_;
};

}  // namespace vessel::cluster
