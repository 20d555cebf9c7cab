// Named volumes (docs/daemon/volumes.md): directories vesseld keeps under <state>/volumes/NAME/_data
// that outlive the containers mounting them (-v NAME:/path). A volume named by a `run` is made on
// first use, as Docker does; one that an instance's spec names, running or not, cannot be removed.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/json.h"
#include "daemon/store/store.h"

namespace vessel::daemon {

// POST /v1/volumes: {"name", "labels"}, validated (a client's input: fuzzed in tests/fuzz/daemon_api).
struct VolumeRequest {
  std::string name;
  std::map<std::string, std::string> labels;
};
Result<VolumeRequest> parse_volume_request(std::string_view body);

class Volumes {
 public:
  Volumes(Store& store, std::string dir) : store_(store), dir_(std::move(dir)) {}

  // {"name", "labels"}: EEXIST when the name is taken.
  Result<json::Json> create(const std::string& name, const std::map<std::string, std::string>& labels);
  // The volume's directory, made (with the volume) when there is none yet.
  Result<std::string> ensure(const std::string& name);
  // A VM's view of it: an ext4 disk image (1 GiB, sparse) beside the directory, made on first use
  // (volume_disk.cc).
  Result<std::string> ensure_disk(const std::string& name);
  // [{"name", "mountpoint", "labels", "created_at", "used_by": [instances]}]
  Result<json::Json> list();
  Result<json::Json> inspect(const std::string& name);
  // EBUSY while an instance's spec names it; its files go with it.
  Result<void> remove(const std::string& name);
  // Removes every volume no instance names: {"deleted": [names], "space_reclaimed": bytes}.
  Result<json::Json> prune();

  std::string mountpoint(const std::string& name) const { return dir_ + "/" + name + "/_data"; }
  std::string disk_path(const std::string& name) const { return dir_ + "/" + name + "/disk.raw"; }

 private:
  Result<json::Json> describe(const VolumeRow& row, const std::map<std::string, std::vector<std::string>>& users);
  // Volume name -> the instances whose spec mounts it.
  Result<std::map<std::string, std::vector<std::string>>> users();
  Result<json::Json> create_locked(const std::string& name, const std::map<std::string, std::string>& labels);
  Result<void> remove_locked(const std::string& name, const std::vector<std::string>& users);

  Store& store_;
  std::string dir_;  // <state>/volumes
  std::mutex mutex_;  // create, ensure and remove as single steps
};

}  // namespace vessel::daemon
