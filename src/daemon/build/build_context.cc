#include "daemon/build/build_context.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fd.h"
#include "daemon/build/dockerignore.h"
#include "files/confined_root.h"
#include "files/tar_unpack.h"

namespace vessel::daemon::build {

namespace {

// Removes what `ignore` excludes below the directory `dir` (an fd of it), `prefix` its path in the
// context. A directory excluded is removed whole unless a `!` pattern may bring back something
// in it; then only its excluded files go.
Result<void> prune(int dir, const std::string& prefix, const DockerIgnore& ignore, int depth) {
  if (depth > 256) return fail(ELOOP, "the context is nested deeper than 256 directories");
  int dup = ::fcntl(dir, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return fail_errno("dup");
  DIR* d = ::fdopendir(dup);
  if (!d) {
    ::close(dup);
    return fail_errno("read the context directory {}", prefix.empty() ? "." : prefix);
  }
  std::vector<std::pair<std::string, bool>> entries;  // name, is a directory
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat st;
    if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    entries.emplace_back(name, S_ISDIR(st.st_mode));
  }
  ::closedir(d);
  for (const auto& [name, is_dir] : entries) {
    std::string path = prefix.empty() ? name : prefix + "/" + name;
    bool excluded = ignore.excluded(path);
    if (is_dir && (!excluded || ignore.has_exceptions())) {
      int child = ::openat(dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (child < 0) return fail_errno("open {}", path);
      Fd owned(child);
      TRY(prune(child, path, ignore, depth + 1));
      continue;
    }
    if (excluded) TRY_CTX(files::remove_at(dir, name), "leave out {} (.dockerignore)", path);
  }
  return {};
}

}  // namespace

Result<std::string> read_file_inside(const std::string& root_dir, const std::string& rel, size_t limit) {
  auto root = TRY(files::ConfinedRoot::open(root_dir));
  Fd fd = TRY(root.open(rel, O_RDONLY | O_CLOEXEC));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return fail_errno("stat {}", rel);
  if (!S_ISREG(st.st_mode)) return fail(EINVAL, "{} is not a file", rel);
  if (static_cast<uint64_t>(st.st_size) > limit) return fail(EFBIG, "{} is larger than {} bytes", rel, limit);
  std::string text(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < text.size()) {
    ssize_t n = ::read(fd.get(), text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("read {}", rel);
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  text.resize(got);
  return text;
}

Result<BuildContext> unpack_build_context(std::string_view tar, const std::string& dir, const std::string& dockerfile) {
  auto root = TRY(files::ConfinedRoot::open(dir));
  if (!tar.empty()) {
    auto reader = TRY(files::open_tar_memory(tar));
    files::UnpackOptions options;  // files owned by root, as COPY makes them; no devices
    TRY_CTX(files::unpack(root, "", reader.get(), options), "the build context");
  }
  BuildContext out{dir, {}};
  auto text = read_file_inside(dir, dockerfile, kMaxDockerfileBytes);
  if (!text && text.error().errnum() == ENOENT)
    return Unexpected(Error(ENOENT, fmt::format("the build context has no {}", dockerfile))
                          .with_hint("name the Dockerfile with -f, a path inside the context"));
  out.dockerfile = TRY_CTX(std::move(text), "read {}", dockerfile);
  auto ignore_text = read_file_inside(dir, ".dockerignore", 1 << 20);
  if (!ignore_text && ignore_text.error().errnum() != ENOENT) return Unexpected(std::move(ignore_text).error().add_context("read .dockerignore"));
  if (ignore_text) {
    auto ignore = DockerIgnore::parse(*ignore_text);
    Fd top = TRY(root.open_dir("", false));
    if (!ignore.empty()) TRY(prune(top.get(), "", ignore, 0));
  }
  return out;
}

}  // namespace vessel::daemon::build
