// vessel cp: files between the host and an instance, Docker's way (docs/daemon/cp.md). The
// rules of where a copy lands are files/cp_rules.h; the bytes travel as tar through vesseld's
// archive endpoints; what comes back is unpacked below the destination only (files/tar_unpack.h).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>

#include "base/cli.h"
#include "base/fd.h"
#include "cli/commands.h"
#include "cli/format.h"
#include "cli/local_path.h"
#include "files/cp_rules.h"
#include "files/path_stat.h"
#include "files/tar_pack.h"
#include "files/tar_unpack.h"

namespace vessel::cli {

namespace {

struct CpFlags {
  bool archive = false, follow = false, quiet = false;
  std::string src, dst;
};

std::string archive_url(const std::string& name, const std::string& path,
                        const std::string& extra = "") {
  std::string q;
  for (unsigned char c : path) {
    if (std::isalnum(c) || c == '/' || c == '-' || c == '_' || c == '.' || c == '~')
      q += static_cast<char>(c);
    else
      q += fmt::format("%{:02X}", c);
  }
  return "/v1/instances/" + escape_segment(name) + "/archive?path=" + q + extra;
}

// Shows how far a large copy got, on a terminal only; then Docker's closing line.
class Progress {
 public:
  Progress(bool quiet, std::string what)
      : show_(!quiet && ::isatty(2)), quiet_(quiet), what_(std::move(what)) {}
  void update(uint64_t bytes) {
    bytes_ = bytes;
    if (show_ && bytes >= shown_ + (1 << 20)) {
      shown_ = bytes;
      fmt::print(stderr, "\rCopying {} {}   ", what_, human_bytes(bytes));
    }
  }
  void done(const std::string& where) {
    if (show_ && shown_) fmt::print(stderr, "\r\033[K");
    if (!quiet_) fmt::print(stderr, "Successfully copied {} to {}\n", human_bytes(bytes_), where);
  }

 private:
  bool show_, quiet_;
  std::string what_;
  uint64_t bytes_ = 0, shown_ = 0;
};

files::Kind local_kind(const std::string& path, bool follow) {
  struct stat st;
  int rc = follow ? ::stat(path.c_str(), &st) : ::lstat(path.c_str(), &st);
  if (rc < 0) return files::Kind::Missing;
  return S_ISDIR(st.st_mode) ? files::Kind::Directory : files::Kind::File;
}

// What `path` is in the instance (HEAD): nullopt when it does not exist.
Result<std::optional<files::PathStat>> remote_stat(Client& client, const std::string& name,
                                                   const std::string& path, bool follow) {
  auto url = archive_url(name, path, follow ? "&follow=1" : "");
  auto r = TRY(
      client.exchange("HEAD", url, "", "application/json", [](std::string_view) { return true; }));
  if (r.status == 404) return std::optional<files::PathStat>();
  if (r.status >= 400) {  // a HEAD answer has no body: ask again for the message
    auto again = TRY(client.exchange("GET", url, "", "application/json",
                                     [](std::string_view) { return false; }));
    return Unexpected(error_from_response(again.status, again.body));
  }
  auto it = r.headers.find("x-docker-container-path-stat");
  if (it == r.headers.end()) return fail(EPROTO, "vesseld's answer has no path stat");
  return std::optional(TRY(files::decode_path_stat(it->second)));
}

Result<Fd> temp_file(const std::string& near) {
  auto fd = Fd::open(near, O_TMPFILE | O_RDWR, 0600);
  if (fd) return fd;
  return Fd::open("/tmp", O_TMPFILE | O_RDWR, 0600);
}

Result<void> copy_out(Client& client, const std::string& name, const std::string& src,
                      const std::string& dst, const CpFlags& f) {
  TRY(client.call("GET", "/v1/instances/" + escape_segment(name)));
  std::string where = fmt::format("{}", dst == "-" ? "STDOUT" : dst);
  Progress progress(f.quiet || dst == "-", "from " + name);
  uint64_t got = 0;
  if (dst == "-") {
    auto r = TRY(client.exchange("GET", archive_url(name, src, f.follow ? "&follow=1" : ""), "",
                                 "application/json",
                                 [&](std::string_view d) { return write_all(1, d).has_value(); }));
    if (r.status >= 400) return Unexpected(error_from_response(r.status, r.body));
    return {};
  }
  auto stat = TRY(remote_stat(client, name, src, f.follow));
  if (!stat) return fail(ENOENT, "{}:{}: no such file or directory", name, src);
  if (files::names_directory(src) && stat->kind() != files::Kind::Directory)
    return fail(ENOTDIR, "{}:{} is not a directory", name, src);
  auto plan = TRY(files::plan_copy(src, stat->kind(), dst, local_kind(dst, true)));
  if (local_kind(plan.dir, true) != files::Kind::Directory)
    return fail(ENOENT, "destination directory {} does not exist", plan.dir);
  Fd tar = TRY(temp_file(plan.dir));
  auto r = TRY(client.exchange("GET", archive_url(name, src, f.follow ? "&follow=1" : ""), "",
                               "application/json", [&](std::string_view d) {
                                 got += d.size();
                                 progress.update(got);
                                 return write_all(tar.get(), d).has_value();
                               }));
  if (r.status >= 400) return Unexpected(error_from_response(r.status, r.body));
  if (::lseek(tar.get(), 0, SEEK_SET) < 0) return fail_errno("rewind");
  // The archive came from the instance (a VM's guest is hostile): it lands below plan.dir only.
  auto root = TRY(files::ConfinedRoot::open(plan.dir));
  auto in = TRY(files::open_tar_fd(tar.get()));
  files::UnpackOptions options;
  options.rebase = std::pair{stat->name, plan.top};
  bool root_user = ::geteuid() == 0;
  options.chown = f.archive && root_user;
  options.keep_owner = f.archive;
  options.allow_devices = f.archive && root_user;
  auto stats =
      TRY_CTX(files::unpack(root, "", in.get(), options), "copy {}:{} to {}", name, src, dst);
  progress.update(stats.bytes);
  progress.done(where);
  return {};
}

Result<void> copy_in(Client& client, const std::string& src, const std::string& name,
                     const std::string& dst, const CpFlags& f) {
  TRY(client.call("GET", "/v1/instances/" + escape_segment(name)));
  auto stat = TRY(remote_stat(client, name, dst, true));
  files::Kind dst_kind = stat ? stat->kind() : files::Kind::Missing;
  std::string body, dir;
  std::string extra = f.archive ? "&copyUIDGID=1" : "";
  if (src == "-") {
    if (dst_kind == files::Kind::Missing)
      return fail(ENOENT, "destination directory {}:{} does not exist", name, dst);
    if (dst_kind != files::Kind::Directory)
      return fail(ENOTDIR, "destination {}:{} is not a directory", name, dst);
    char buf[65536];
    for (;;) {
      ssize_t n = ::read(0, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return fail_errno("read the archive from stdin");
      if (n == 0) break;
      body.append(buf, static_cast<size_t>(n));
    }
    dir = dst;
  } else {
    std::string path = absolute_path(src);
    auto kind = local_kind(path, f.follow);
    if (kind == files::Kind::Missing) return fail(ENOENT, "{}: no such file or directory", src);
    auto plan = TRY(files::plan_copy(src, kind, dst, dst_kind));
    dir = plan.dir;
    auto root = TRY(files::ConfinedRoot::open("/"));
    Fd tar = TRY(temp_file("/tmp"));
    files::PackOptions options;
    options.follow_link = f.follow;
    TRY_CTX(files::pack(root, path.substr(1), plan.top, options, tar.get()), "archive {}", src);
    off_t size = ::lseek(tar.get(), 0, SEEK_END);
    if (size < 0 || ::lseek(tar.get(), 0, SEEK_SET) < 0) return fail_errno("rewind");
    body.resize(static_cast<size_t>(size));
    if (::pread(tar.get(), body.data(), body.size(), 0) != size)
      return fail_errno("read the archive back");
  }
  Progress progress(f.quiet, "to " + name);
  auto r = TRY(client.exchange(
      "PUT", archive_url(name, dir, extra), body, "application/x-tar",
      [](std::string_view) { return true; },
      [&](uint64_t sent, uint64_t) { progress.update(sent); }));
  if (r.status >= 400) return Unexpected(error_from_response(r.status, r.body));
  progress.update(body.size());
  progress.done(fmt::format("{}:{}", name, dst));
  return {};
}

}  // namespace

Result<void> copy_to_instance(Client& client, const std::string& src, const std::string& name, const std::string& dst) {
  CpFlags quiet;
  quiet.quiet = true;
  return copy_in(client, src, name, dst, quiet);
}

void add_cp_command(CLI::App& app, Context& ctx) {
  auto f = std::make_shared<CpFlags>();
  auto* c = app.add_subcommand(
      "cp", "copy files and directories between an instance (container or VM) and the host");
  c->add_option("src", f->src, "NAME:SRC_PATH, a local SRC_PATH, or - (a tar stream on stdin)")
      ->required();
  c->add_option("dst", f->dst, "a local DEST_PATH, - (a tar stream on stdout), or NAME:DEST_PATH")
      ->required();
  c->add_flag("--archive,-a", f->archive,
              "keep owners (uid:gid) and set-id bits; copying in, the ids are the container's");
  c->add_flag("--follow-link,-L", f->follow,
              "follow a symbolic link SRC_PATH (never out of the instance)");
  c->add_flag("--quiet,-q", f->quiet, "print no progress and no summary");
  c->footer(
      "Usage:\n"
      "  vessel cp [-a] [-L] [-q] NAME:SRC_PATH DEST_PATH|-\n"
      "  vessel cp [-a] [-L] [-q] SRC_PATH|- NAME:DEST_PATH\n\n"
      "Where the copy lands (Docker's rules):\n"
      "  SRC_PATH a file:      DEST_PATH missing: saved as DEST_PATH (its directory must exist);\n"
      "                        DEST_PATH/ missing: error; a file: overwritten; a directory: "
      "DEST_PATH/NAME.\n"
      "  SRC_PATH a directory: DEST_PATH missing: made, a copy of SRC_PATH; a file: error;\n"
      "                        a directory: DEST_PATH/NAME, or with SRC_PATH/. its contents.\n"
      "  - : a tar stream; copying in, DEST_PATH must be a directory.\n\n"
      "Paths in an instance are resolved inside its root filesystem: a symbolic link there never "
      "leads\n"
      "out of it. Copied in, files belong to the container's root (its user namespace's first id\n"
      "with --userns=auto) unless -a; device nodes only with -a. Containers may be running or "
      "stopped.\n"
      "VMs must be running: their vessel-agent copies files, directories and symbolic links (no "
      "devices,\n"
      "no hard links), as root in the guest. A local path holding ':' is written ./a:b.\n\n"
      "Examples:\n"
      "  vessel cp web:/etc/nginx/nginx.conf .\n"
      "  vessel cp ./site/. web:/usr/share/nginx/html\n"
      "  vessel cp web:/var/log - | tar -tv\n"
      "Exit status: 0 copied; 1 failure (the message says why); 2 usage error.");
  c->callback([&ctx, f] {
    auto src = files::parse_cp_arg(f->src);
    auto dst = files::parse_cp_arg(f->dst);
    if (!src || !dst) {
      ctx.status = report(
          Error(EINVAL, (src ? dst : src).error().message()).with_hint("see `vessel cp --help`"));
      return;
    }
    if (src->instance.has_value() == dst->instance.has_value()) {
      ctx.status = report(
          Error(EINVAL, src->instance ? "copying between instances is not supported"
                                      : "one of the paths must be NAME:PATH, a path in an instance")
              .with_hint("see `vessel cp --help`"));
      return;
    }
    auto client = ctx.client();
    auto done = src->instance ? copy_out(client, *src->instance, src->path, dst->path, *f)
                              : copy_in(client, src->path, *dst->instance, dst->path, *f);
    if (!done) ctx.status = report(done.error());
  });
}

}  // namespace vessel::cli
