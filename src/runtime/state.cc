#include "runtime/state.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <ctime>

#include "base/fd.h"
#include "runtime/linux/sys.h"

namespace vessel::runtime {

const char* status_name(Status s) {
  switch (s) {
    case Status::Creating: return "creating";
    case Status::Created: return "created";
    case Status::Running: return "running";
    case Status::Paused: return "paused";
    case Status::Stopped: return "stopped";
  }
  return "unknown";
}

std::string now_rfc3339() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  tm t;
  gmtime_r(&ts.tv_sec, &t);
  char buf[64];
  snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", t.tm_year + 1900, t.tm_mon + 1,
           t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, ts.tv_nsec);
  return buf;
}

Result<void> check_id(const std::string& id) {
  if (id.empty()) return fail(EINVAL, "container id must not be empty");
  if (id.size() > 1024) return fail(EINVAL, "container id is longer than 1024 bytes");
  if (id == "." || id == "..") return fail(EINVAL, "invalid container id \"{}\"", id);
  for (char c : id)
    if (!isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '+' && c != '-' && c != '.')
      return fail(EINVAL, "invalid container id \"{}\": only letters, digits and _+-. are allowed", id);
  return {};
}

json::Json ContainerState::to_json() const {
  json::Json j;
  j["id"] = id;
  j["pid"] = pid;
  j["pid_start"] = pid_start;
  j["bundle"] = bundle;
  j["rootfs"] = rootfs;
  j["created"] = created;
  j["owner"] = owner;
  j["annotations"] = annotations;
  j["cgroup"] = cgroup.to_json();
  j["has_pidns"] = has_pidns;
  if (!systemd_unit.empty()) j["systemd_unit"] = systemd_unit;
  return j;
}

Result<ContainerState> ContainerState::from_json(const json::Json& j) {
  if (!j.is_object()) return fail(EINVAL, "state.json: not an object");
  ContainerState s;
  try {
    s.id = j.at("id").get<std::string>();
    s.pid = j.at("pid").get<pid_t>();
    s.pid_start = j.value("pid_start", uint64_t{0});
    s.bundle = j.value("bundle", "");
    s.rootfs = j.value("rootfs", "");
    s.created = j.value("created", "");
    s.owner = j.value("owner", "");
    if (j.contains("annotations")) s.annotations = j["annotations"].get<std::map<std::string, std::string>>();
    s.has_pidns = j.value("has_pidns", false);
    s.systemd_unit = j.value("systemd_unit", "");
  } catch (const std::exception& e) {
    return fail(EINVAL, "state.json: {}", e.what());
  }
  if (j.contains("cgroup")) s.cgroup = Cgroup::from_json(j["cgroup"]);
  return s;
}

Result<void> StateStore::create_dir(const std::string& id) const {
  if (mkdir(root_.c_str(), 0711) != 0 && errno != EEXIST) {
    // Create missing parents of --root (e.g. /run/user/0/vessel).
    std::string partial;
    for (size_t i = 1; i <= root_.size(); ++i)
      if (i == root_.size() || root_[i] == '/') {
        partial = root_.substr(0, i);
        if (mkdir(partial.c_str(), 0711) != 0 && errno != EEXIST) return fail_errno("create state root {}", partial);
      }
  }
  std::string d = dir(id);
  if (mkdir(d.c_str(), 0711) != 0) {
    if (errno == EEXIST) return fail(EEXIST, "container \"{}\" already exists", id);
    return fail_errno("create state directory {}", d);
  }
  return {};
}

Result<void> StateStore::save(const ContainerState& s) const {
  std::string path = dir(s.id) + "/state.json";
  std::string tmp = path + ".tmp";
  TRY(write_file(tmp, s.to_json().dump()));
  if (rename(tmp.c_str(), path.c_str()) != 0) return fail_errno("rename {}", tmp);
  return {};
}

Result<ContainerState> StateStore::load(const std::string& id) const {
  TRY(check_id(id));
  auto text = read_file(dir(id) + "/state.json");
  if (!text) {
    if (text.error().errnum() == ENOENT) return fail(ENOENT, "container \"{}\" does not exist", id);
    return Unexpected(std::move(text).error());
  }
  auto j = TRY_CTX(json::parse(*text), "state of container {}", id);
  return ContainerState::from_json(j);
}

Result<void> StateStore::remove(const std::string& id) const {
  std::string d = dir(id);
  DIR* dp = opendir(d.c_str());
  if (!dp) {
    if (errno == ENOENT) return {};
    return fail_errno("open {}", d);
  }
  while (dirent* e = readdir(dp)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    unlinkat(dirfd(dp), name.c_str(), 0);
  }
  closedir(dp);
  if (rmdir(d.c_str()) != 0 && errno != ENOENT) return fail_errno("remove {}", d);
  return {};
}

Result<std::vector<std::string>> StateStore::list() const {
  std::vector<std::string> out;
  DIR* dp = opendir(root_.c_str());
  if (!dp) {
    if (errno == ENOENT) return out;
    return fail_errno("open {}", root_);
  }
  while (dirent* e = readdir(dp)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    if (access((root_ + "/" + name + "/state.json").c_str(), F_OK) == 0) out.push_back(name);
  }
  closedir(dp);
  std::sort(out.begin(), out.end());
  return out;
}

Status StateStore::status(const ContainerState& s) const {
  if (s.pid <= 0) return Status::Stopped;
  if (!sys::process_alive(s.pid) || sys::process_start_time(s.pid) != s.pid_start) return Status::Stopped;
  if (access(fifo(s.id).c_str(), F_OK) == 0) return Status::Created;
  if (s.cgroup.frozen().value_or(false)) return Status::Paused;
  return Status::Running;
}

nlohmann::ordered_json oci_state(const ContainerState& s, Status status) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  j["ociVersion"] = kOciVersion;
  j["id"] = s.id;
  j["pid"] = status == Status::Stopped ? 0 : s.pid;
  j["status"] = status_name(status);
  j["bundle"] = s.bundle;
  j["rootfs"] = s.rootfs;
  j["created"] = s.created;
  j["owner"] = s.owner;
  if (!s.annotations.empty()) j["annotations"] = s.annotations;
  return j;
}

}  // namespace vessel::runtime
