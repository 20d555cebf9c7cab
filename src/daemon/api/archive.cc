// GET, HEAD and PUT /v1/instances/NAME/archive?path=P: Docker's archive endpoints, what `vessel
// cp` uses (docs/daemon/cp.md). Containers, running or stopped: their root filesystem on the host,
// every path resolved inside it (files/confined_root.h). VMs: through the guest's vessel-agent
// (api/archive_vm.cc).
#include <fcntl.h>
#include <unistd.h>

#include "base/log.h"
#include "daemon/api/router.h"
#include "files/path_stat.h"
#include "files/tar_pack.h"
#include "files/tar_unpack.h"

namespace vessel::daemon {

namespace {

// The path inside the instance, relative to its root ("" is the root).
Result<std::string> inside(const std::string& path) {
  if (path.empty())
    return Unexpected(
        Error(EINVAL, "the query argument path is missing").with_hint("?path=/etc/hosts"));
  if (path.size() > 4096) return fail(ENAMETOOLONG, "path is longer than 4096 bytes");
  if (path.find('\0') != std::string::npos) return fail(EINVAL, "path holds a NUL byte");
  size_t start = path.find_first_not_of('/');
  return start == std::string::npos ? std::string() : path.substr(start);
}

// Host ids as the container sees them; ids outside its range show as nobody.
files::IdMap container_view(const std::optional<IdRange>& userns) {
  if (!userns) return {};
  IdRange range = *userns;
  return [range](uid_t uid, gid_t gid) -> std::pair<int64_t, int64_t> {
    int64_t u = uid >= range.uid && uid - range.uid < range.count ? uid - range.uid : 65534;
    int64_t g = gid >= range.gid && gid - range.gid < range.count ? gid - range.gid : 65534;
    return {u, g};
  };
}

http::Response with_stat(http::Response resp, const files::PathStat& stat) {
  resp.headers[files::kPathStatHeader] = files::encode_path_stat(stat);
  return resp;
}

}  // namespace

bool Api::is_archive_upload(const http::Request& r) {
  if (r.method != "PUT") return false;
  constexpr std::string_view kSuffix = "/archive";
  return r.path.rfind("/v1/instances/", 0) == 0 && r.path.size() > kSuffix.size() &&
         r.path.compare(r.path.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0;
}

http::Response Api::archive(const http::Request& r, const std::string& name) {
  auto rel = inside(r.query_arg("path"));
  if (!rel) return error_response(rel.error(), 400);
  auto vm = manager_.is_vm(name);
  if (!vm) return error_response(vm.error());
  if (*vm) return archive_vm(r, name, *rel);
  const std::string raw_path = r.query_arg("path");
  bool follow = r.query_flag("follow");
  http::Response resp;
  if (r.method == "PUT") {
    files::UnpackOptions options;
    options.keep_owner = r.query_flag("copyUIDGID");
    options.allow_devices = options.keep_owner;
    auto done = manager_.with_files(
        name,
        [&](const std::string& root_dir, const std::optional<IdRange>& userns) -> Result<void> {
          auto root = TRY(files::ConfinedRoot::open(root_dir));
          if (userns) {  // docs/daemon/userns.md: the container's root is the range's first id
            IdRange range = *userns;
            options.uid = range.uid;
            options.gid = range.gid;
            options.ids = [range](int64_t uid, int64_t gid) -> Result<std::pair<uid_t, gid_t>> {
              if (uid < 0 || gid < 0 || uid >= range.count || gid >= range.count)
                return fail(EINVAL, "owner {}:{} is outside the container's {} ids", uid, gid,
                            range.count);
              return std::pair{static_cast<uid_t>(range.uid + uid),
                               static_cast<gid_t>(range.gid + gid)};
            };
          }
          auto in = TRY(files::open_tar_memory(r.body));
          auto stats = TRY_CTX(files::unpack(root, *rel, in.get(), options), "copy into {}:{}",
                               name, raw_path);
          log::info("copied {} entries ({} bytes) into {}:{}", stats.entries, stats.bytes, name,
                    raw_path);
          return {};
        });
    if (!done) return error_response(done.error());
    resp.status = 200;
    resp.body = "{}\n";
    return resp;
  }
  // GET and HEAD: the stat; GET also the tar, built in an unlinked file and then streamed.
  files::PathStat stat;
  Fd tar;
  auto done = manager_.with_files(
      name, [&](const std::string& root_dir, const std::optional<IdRange>& userns) -> Result<void> {
        auto root = TRY(files::ConfinedRoot::open(root_dir));
        stat = TRY_CTX(files::stat_in(root, *rel, follow), "{}:{}", name, raw_path);
        if (files::names_directory(raw_path) && !S_ISDIR(stat.mode))
          return fail(ENOTDIR, "{}:{} is not a directory", name, raw_path);
        if (r.method == "HEAD") return {};
        tar = TRY(Fd::open(manager_.config().state_dir, O_TMPFILE | O_RDWR, 0600));
        files::PackOptions options;
        options.follow_link = follow;
        options.ids = container_view(userns);
        std::string top = stat.name.empty() ? "." : stat.name;
        TRY_CTX(files::pack(root, *rel, top, options, tar.get()), "archive {}:{}", name, raw_path);
        return {};
      });
  if (!done &&
      done.error().errnum() == ENOTDIR)  // "a/file/...": Docker's words, a client's mistake
    return error_response(Error(ENOTDIR, fmt::format("{}:{}: not a directory", name, raw_path)),
                          400);
  if (!done) return error_response(done.error());
  resp.content_type = "application/x-tar";
  if (r.method == "HEAD") return with_stat(std::move(resp), stat);
  auto stream = stream_from_start(std::move(tar));
  if (!stream) return error_response(stream.error());
  resp.stream = std::move(*stream);
  return with_stat(std::move(resp), stat);
}

Result<std::function<bool(std::string&)>> stream_from_start(Fd file) {
  if (::lseek(file.get(), 0, SEEK_SET) < 0) return fail_errno("rewind the archive");
  auto shared = std::make_shared<Fd>(std::move(file));
  return [shared](std::string& out) {
    char buf[64 * 1024];
    ssize_t n;
    do n = ::read(shared->get(), buf, sizeof buf);
    while (n < 0 && errno == EINTR);
    if (n <= 0) return false;
    out.append(buf, static_cast<size_t>(n));
    return true;
  };
}

}  // namespace vessel::daemon
