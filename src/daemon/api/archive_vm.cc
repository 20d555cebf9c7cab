// The archive endpoints for a running VM (docs/daemon/cp.md): its vessel-agent's stat, tree-out
// and tree-in (agent/protocol/tree.h) turned into Docker's stat header and tar. The guest is
// hostile: its entries are checked by the agent client (relative names, sizes, counts, bytes
// against --max-archive-bytes) before they become tar entries, and the CLI unpacks the tar below
// its destination only.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>

#include "agent/client/tree_client.h"
#include "base/log.h"
#include "daemon/api/router.h"
#include "daemon/instances/vm_files.h"
#include "files/path_stat.h"

namespace vessel::daemon {

namespace {

constexpr agent::Millis kAgentWait{30000};

}  // namespace

http::Response Api::archive_vm(const http::Request& r, const std::string& name,
                               const std::string& rel) {
  auto uds = manager_.agent_socket(name);
  if (!uds) return error_response(uds.error());
  const std::string raw_path = r.query_arg("path");
  const std::string guest_path = "/" + rel;
  if (r.method == "PUT") {
    auto done = vm_tar_in(*uds, guest_path, r.body, r.query_flag("copyUIDGID"));
    if (!done)
      return error_response(
          std::move(done).error().add_context(fmt::format("copy into {}:{}", name, raw_path)));
    log::info("copied {} entries ({} bytes) into VM {}:{}", done->first, done->second, name,
              raw_path);
    http::Response resp;
    resp.body = "{}\n";
    return resp;
  }
  bool follow = r.query_flag("follow");
  auto info = agent::stat_path(*uds, guest_path, follow, kAgentWait);
  if (!info) return error_response(info.error());
  if (!info->exists)
    return error_response(
        Error(ENOENT, fmt::format("{}:{}: no such file or directory", name, raw_path)));
  if (files::names_directory(raw_path) && !S_ISDIR(info->mode))
    return error_response(Error(ENOTDIR, fmt::format("{}:{}: not a directory", name, raw_path)),
                          400);
  files::PathStat stat{files::base_name(rel), info->size, info->mode, info->mtime, info->target};
  http::Response resp;
  resp.content_type = "application/x-tar";
  resp.headers[files::kPathStatHeader] = files::encode_path_stat(stat);
  if (r.method == "HEAD") return resp;
  auto tar = Fd::open(manager_.config().state_dir, O_TMPFILE | O_RDWR, 0600);
  if (!tar) return error_response(tar.error());
  std::string top = stat.name.empty() ? "." : stat.name;
  auto packed = vm_tar_out(*uds, guest_path, follow, top, max_archive_bytes_, tar->get());
  if (!packed)
    return error_response(
        std::move(packed).error().add_context(fmt::format("archive {}:{}", name, raw_path)));
  auto stream = stream_from_start(std::move(*tar));
  if (!stream) return error_response(stream.error());
  resp.stream = std::move(*stream);
  return resp;
}

}  // namespace vessel::daemon
