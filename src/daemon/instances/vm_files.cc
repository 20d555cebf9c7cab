// vessel cp for VMs (docs/daemon/cp.md): a running VM's vessel-agent's tree-out and tree-in
// (agent/protocol/tree.h) turned into tar and back. The guest is hostile: its entries are checked
// by the agent client (relative names, sizes, counts, bytes against the caller's bound) before
// they become tar entries.
#include "daemon/instances/vm_files.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "agent/client/tree_client.h"
#include "files/entry_path.h"
#include "files/archive_handles.h"
#include "files/tar_unpack.h"

namespace vessel::daemon {

namespace {

constexpr agent::Millis kAgentWait{30000};

const char* error_of(archive* a) {
  const char* e = archive_error_string(a);
  return e ? e : "unknown error";
}

}  // namespace

Result<void> vm_tar_out(const std::string& uds, const std::string& guest_path, bool follow,
                        const std::string& top, uint64_t max_bytes, int out_fd) {
  files::ArchiveWriter out(archive_write_new());
  if (!out || archive_write_set_format_pax_restricted(out.get()) != ARCHIVE_OK ||
      archive_write_set_bytes_in_last_block(out.get(), 1) != ARCHIVE_OK ||
      archive_write_open_fd(out.get(), out_fd) != ARCHIVE_OK)
    return fail(EIO, "start the archive: {}", out ? error_of(out.get()) : "out of memory");
  agent::TreeLimits limits;
  limits.max_bytes = max_bytes;
  TRY(agent::tree_out(
      uds, guest_path, follow, limits,
      [&](const agent::TreeEntry& e) -> Result<void> {
        files::ArchiveEntry h(archive_entry_new());
        std::string name = e.path.empty() ? top : top + "/" + e.path;
        archive_entry_copy_pathname(h.get(), name.c_str());
        archive_entry_set_mode(h.get(), e.mode);
        archive_entry_set_size(h.get(), static_cast<la_int64_t>(e.size));
        archive_entry_set_mtime(h.get(), e.mtime, 0);
        archive_entry_set_uid(h.get(), e.uid);
        archive_entry_set_gid(h.get(), e.gid);
        if (S_ISLNK(e.mode)) archive_entry_copy_symlink(h.get(), e.target.c_str());
        if (archive_write_header(out.get(), h.get()) != ARCHIVE_OK)
          return fail(EIO, "archive {}: {}", name, error_of(out.get()));
        return {};
      },
      [&](std::string_view bytes) -> Result<void> {
        if (archive_write_data(out.get(), bytes.data(), bytes.size()) !=
            static_cast<la_ssize_t>(bytes.size()))
          return fail(EIO, "write the archive: {}", error_of(out.get()));
        return {};
      },
      kAgentWait));
  if (archive_write_close(out.get()) != ARCHIVE_OK)
    return fail(EIO, "finish the archive: {}", error_of(out.get()));
  return {};
}

Result<std::pair<uint64_t, uint64_t>> vm_tar_in(const std::string& uds,
                                                const std::string& guest_dir, std::string_view tar,
                                                bool owners) {
  auto in = TRY(files::open_tar_memory(tar));
  auto upload = TRY(agent::TreeUpload::open(uds, guest_dir, owners, kAgentWait));
  archive_entry* e;
  int rc;
  std::vector<char> buf(64 * 1024);
  uint64_t entries = 0;
  while ((rc = archive_read_next_header(in.get(), &e)) == ARCHIVE_OK) {
    if (++entries > files::kMaxEntries)
      return fail(E2BIG, "more than {} entries", files::kMaxEntries);
    const char* raw = archive_entry_pathname(e);
    auto path = TRY(files::parse_entry_path(raw ? raw : ""));
    std::string rel = path.full();
    if (rel.empty()) continue;  // the directory itself
    if (archive_entry_hardlink(e))
      return fail(ENOTSUP, "{}: hard links cannot be copied into a VM", rel);
    agent::TreeEntry t;
    t.path = rel;
    auto type = archive_entry_filetype(e);
    if (type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK)
      return fail(ENOTSUP, "{}: only files, directories and symbolic links can be copied into a VM",
                  rel);
    t.mode = static_cast<uint32_t>(type | (archive_entry_perm(e) & 07777));
    t.size = type == AE_IFREG && archive_entry_size(e) > 0
                 ? static_cast<uint64_t>(archive_entry_size(e))
                 : 0;
    t.mtime = archive_entry_mtime(e);
    int64_t uid = archive_entry_uid(e), gid = archive_entry_gid(e);
    if (owners && (uid < 0 || gid < 0 || uid > 0xfffffffe || gid > 0xfffffffe))
      return fail(EINVAL, "{}: owner {}:{} out of range", rel, uid, gid);
    t.uid = static_cast<uint32_t>(std::max<int64_t>(uid, 0));
    t.gid = static_cast<uint32_t>(std::max<int64_t>(gid, 0));
    if (type == AE_IFLNK) {
      const char* target = archive_entry_symlink(e);
      if (!target || !*target || std::string_view(target).size() > files::kMaxLinkTarget)
        return fail(EINVAL, "{}: a symlink to nothing or to more than 4096 bytes", rel);
      t.target = target;
    }
    TRY_CTX(upload.entry(t), "copy {} into the VM", rel);
    if (type != AE_IFREG) continue;
    uint64_t sent = 0;
    for (;;) {
      la_ssize_t n = archive_read_data(in.get(), buf.data(), buf.size());
      if (n < 0) return fail(EINVAL, "read {} in the archive: {}", rel, error_of(in.get()));
      if (n == 0) break;
      size_t take =
          static_cast<size_t>(std::min<uint64_t>(static_cast<uint64_t>(n), t.size - sent));
      TRY_CTX(upload.data({buf.data(), take}), "copy {} into the VM", rel);
      sent += take;
    }
    if (sent != t.size)
      return fail(EINVAL, "{}: the archive holds fewer bytes than its header says", rel);
    TRY(upload.end_file());
  }
  if (rc != ARCHIVE_EOF) return fail(EINVAL, "not a valid tar archive: {}", error_of(in.get()));
  return upload.finish();
}

}  // namespace vessel::daemon
