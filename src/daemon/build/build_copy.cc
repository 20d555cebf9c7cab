// COPY and ADD (Docker's rules): sources are paths in the context (or in another stage's or an
// image's files with --from), resolved inside that root (files::ConfinedRoot: a symlink never
// leads out), wildcards in the last component; a directory's contents are copied, not the
// directory; several sources need a destination ending in '/'; a relative destination is
// under WORKDIR. Files belong to root unless --chown. ADD unpacks a local tar archive (plain,
// gzip, bzip2, xz, zstd) into the destination; ADD of a URL is refused.
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <dirent.h>

#include "base/fd.h"
#include "daemon/build/build_steps.h"
#include "daemon/images/dockerfile_words.h"
#include "daemon/images/sha256.h"
#include "daemon/instances/container_user.h"
#include "files/confined_root.h"
#include "files/cp_rules.h"
#include "files/tar_pack.h"
#include "files/tar_unpack.h"

namespace vessel::daemon::build {

namespace {

std::string strip_slashes(std::string path) {
  while (!path.empty() && path.front() == '/') path.erase(0, 1);
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path == "." ? "" : path;
}

std::string parent_of(const std::string& rel) {
  auto slash = rel.rfind('/');
  return slash == std::string::npos ? "" : rel.substr(0, slash);
}

// The names in `dir` (inside `root`) that `pattern` matches, sorted.
Result<std::vector<std::string>> glob(const files::ConfinedRoot& root, const std::string& pattern) {
  std::string dir = parent_of(pattern), base = files::base_name(pattern);
  Fd d = TRY(root.open_dir(dir, false));
  DIR* listing = ::fdopendir(::dup(d.get()));
  if (!listing) return fail_errno("list {}", dir.empty() ? "/" : dir);
  std::vector<std::string> out;
  while (dirent* e = ::readdir(listing)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    if (::fnmatch(base.c_str(), name.c_str(), FNM_PERIOD) == 0) out.push_back(dir.empty() ? name : dir + "/" + name);
  }
  ::closedir(listing);
  std::sort(out.begin(), out.end());
  return out;
}

// A digest of what a tar holds that does not change from one build to the next: names, types,
// modes, link targets and contents (not times: a checkout's new mtimes keep the cache).
Result<std::string> content_digest(int fd) {
  if (::lseek(fd, 0, SEEK_SET) < 0) return fail_errno("rewind");
  auto reader = TRY(files::open_tar_fd(fd));
  Sha256 h;
  archive_entry* e = nullptr;
  int r;
  while ((r = archive_read_next_header(reader.get(), &e)) == ARCHIVE_OK) {
    const char* link = archive_entry_symlink(e);
    std::string head = fmt::format("{}\n{:o}\n{}\n{}\n", archive_entry_pathname(e), archive_entry_mode(e),
                                   archive_entry_size(e), link ? link : "");
    h.update(head.data(), head.size());
    const void* buf;
    size_t size;
    int64_t offset;
    while (archive_read_data_block(reader.get(), &buf, &size, &offset) == ARCHIVE_OK) h.update(buf, size);
  }
  if (r != ARCHIVE_EOF) return fail(EIO, "read back the packed sources: {}", archive_error_string(reader.get()));
  if (::lseek(fd, 0, SEEK_SET) < 0) return fail_errno("rewind");
  return h.hex_digest();
}

// ADD: is this file a tar archive (compressed or not)?
bool is_archive(int fd) {
  auto reader = files::open_tar_fd(fd);
  archive_entry* e = nullptr;
  bool yes = reader && archive_read_next_header(reader->get(), &e) == ARCHIVE_OK &&
             archive_format(reader->get()) != ARCHIVE_FORMAT_RAW && archive_format(reader->get()) != ARCHIVE_FORMAT_EMPTY;
  (void)::lseek(fd, 0, SEEK_SET);
  return yes;
}

Result<void> refuse_flags(const dockerfile::Instruction& in) {
  for (const auto& [name, value] : in.flags)
    if (name != "from" && name != "chown")
      return fail(ENOTSUP, "{} --{} is not supported by vessel build", in.keyword, name);
  return {};
}

}  // namespace

Result<CopyPlan> CopyPlan::prepare(const StepEnv&, const dockerfile::Instruction& in, const StageState& state,
                                   const CopySource& source, const std::string& dir) {
  TRY(refuse_flags(in));
  auto vars = stage_vars(state);
  std::vector<std::string> args = in.exec ? *in.exec : TRY(dockerfile::words(in.args, vars));
  if (args.size() < 2) return fail(EINVAL, "{} needs a source and a destination", in.keyword);
  CopyPlan plan;
  std::string dest = args.back();
  args.pop_back();
  plan.dest = dest.starts_with("/") ? dest : workdir_of(state) + (workdir_of(state).ends_with("/") ? "" : "/") + dest;
  plan.dest_is_dir = dest.ends_with("/") || dest == "." || dest.ends_with("/.");
  if (auto chown = in.flag("chown")) plan.chown = TRY(dockerfile::word(*chown, vars));
  auto root = TRY(files::ConfinedRoot::open(source.root));
  std::vector<std::string> sources;
  for (const auto& src : args) {
    if (in.keyword == "ADD" && src.find("://") != std::string::npos)
      return Unexpected(Error(ENOTSUP, fmt::format("ADD of a URL ({}) is not supported by vessel build", src))
                            .with_hint("download the file into the build context, or fetch it in a RUN step"));
    std::string rel = strip_slashes(src);
    if (rel.find_first_of("*?[") == std::string::npos) {
      sources.push_back(rel);
      continue;
    }
    auto matches = TRY(glob(root, rel));
    if (matches.empty()) return fail(ENOENT, "{}: no file matches {}", in.keyword, src);
    sources.insert(sources.end(), matches.begin(), matches.end());
  }
  if (sources.size() > 1 && !plan.dest_is_dir)
    return fail(EINVAL, "{} of more than one source needs a destination directory ending in /: {}", in.keyword, dest);
  Sha256 digest;
  std::string head = fmt::format("{} {} {}", in.keyword, plan.dest, plan.chown.value_or(""));
  digest.update(head.data(), head.size());
  for (size_t i = 0; i < sources.size(); ++i) {
    const std::string& rel = sources[i];
    auto stat = files::stat_in(root, rel, true);
    if (!stat && stat.error().errnum() == ENOENT)
      return fail(ENOENT, "{}: {} is not in the {}", in.keyword, rel.empty() ? "." : rel, source.context ? "build context" : "source stage");
    TRY(std::move(stat));
    Item item;
    item.directory = S_ISDIR(stat->mode);
    item.top = item.directory ? "" : files::base_name(rel);
    item.tar = fmt::format("{}/src-{}.tar", dir, i);
    if (in.keyword == "ADD" && S_ISREG(stat->mode)) {
      Fd file = TRY(root.open(rel, O_RDONLY | O_CLOEXEC));
      if (is_archive(file.get())) {  // unpacked into the destination, read from a copy of ours
        item.archive = true;
        item.tar = fmt::format("{}/src-{}.archive", dir, i);
        Fd copy = TRY(Fd::open(item.tar, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
        char buf[65536];
        for (ssize_t n; (n = ::read(file.get(), buf, sizeof buf)) > 0;)
          TRY(write_all(copy.get(), std::string_view(buf, static_cast<size_t>(n))));
        std::string d = TRY(sha256_file(item.tar));
        digest.update(d.data(), d.size());
        plan.items_.push_back(std::move(item));
        continue;
      }
    }
    Fd out = TRY(Fd::open(item.tar, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    files::PackOptions options;
    options.follow_link = true;  // the source itself, when a link, is followed (inside the root)
    TRY_CTX(files::pack(root, rel, item.top, options, out.get()), "{} {}", in.keyword, rel.empty() ? "." : rel);
    std::string d = TRY(content_digest(out.get()));
    digest.update(d.data(), d.size());
    plan.items_.push_back(std::move(item));
  }
  plan.digest_ = digest.hex_digest();
  return plan;
}

Result<void> CopyPlan::apply(const std::string& rootfs) const {
  auto root = TRY(files::ConfinedRoot::open(rootfs));
  files::UnpackOptions options;
  if (chown) {
    auto user = TRY_CTX(resolve_container_user(*chown, {rootfs}), "--chown={}", *chown);
    options.uid = user.uid;
    options.gid = user.gid;
  }
  std::string dest_rel = strip_slashes(dest);
  for (const auto& item : items_) {
    std::string into = dest_rel;
    if (!item.directory && !item.archive && !dest_is_dir) {
      auto existing = files::stat_in(root, dest_rel, true);
      if (!existing || !S_ISDIR(existing->mode)) {  // a file named as the destination says
        into = parent_of(dest_rel);
        options.rebase = std::make_pair(item.top, files::base_name(dest_rel));
      }
    }
    TRY_CTX(root.open_dir(into, true), "make the destination {}", into.empty() ? "/" : into);
    Fd tar = TRY(Fd::open(item.tar, O_RDONLY | O_CLOEXEC));
    auto reader = TRY(files::open_tar_fd(tar.get()));
    TRY_CTX(files::unpack(root, into, reader.get(), options), "copy to {}", dest);
    options.rebase.reset();
  }
  return {};
}

}  // namespace vessel::daemon::build
