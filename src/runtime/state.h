// A container's saved state: <root>/<id>/state.json (plus exec.fifo while it is "created" and a
// copy of config.json). The status is derived from the live process each time it is read.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>

#include "base/error.h"
#include "base/json.h"
#include "runtime/cgroups/cgroup.h"

namespace vessel::runtime {

inline constexpr const char* kDefaultRoot = "/run/vessel-runtime";
inline constexpr const char* kOciVersion = "1.2.0";

enum class Status { Creating, Created, Running, Paused, Stopped };
const char* status_name(Status s);

struct ContainerState {
  std::string id;
  pid_t pid = 0;
  uint64_t pid_start = 0;  // /proc/PID/stat start time: guards against PID reuse
  std::string bundle;
  std::string rootfs;
  std::string created;  // RFC 3339
  std::string owner;
  std::map<std::string, std::string> annotations;
  Cgroup cgroup;
  bool has_pidns = false;  // killing init kills everything
  std::string systemd_unit;  // --systemd-cgroup: the container's transient scope ("" for cgroupfs)

  json::Json to_json() const;
  static Result<ContainerState> from_json(const json::Json& j);
};

class StateStore {
 public:
  explicit StateStore(std::string root) : root_(std::move(root)) {}
  const std::string& root() const { return root_; }
  std::string dir(const std::string& id) const { return root_ + "/" + id; }
  std::string fifo(const std::string& id) const { return dir(id) + "/exec.fifo"; }

  // Fails with EEXIST when a container of that id exists.
  Result<void> create_dir(const std::string& id) const;
  Result<void> save(const ContainerState& s) const;
  Result<ContainerState> load(const std::string& id) const;
  Result<void> remove(const std::string& id) const;
  Result<std::vector<std::string>> list() const;

  // Live status of a saved container.
  Status status(const ContainerState& s) const;

 private:
  std::string root_;
};

// Container ids: [A-Za-z0-9][A-Za-z0-9_+.-]*, at most 1024 bytes, never "." or "..".
Result<void> check_id(const std::string& id);

// The public OCI state document (what `state` prints and hooks read on stdin).
// Keys in runc's order (clients match the text).
nlohmann::ordered_json oci_state(const ContainerState& s, Status status);

std::string now_rfc3339();

}  // namespace vessel::runtime
