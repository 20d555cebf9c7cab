// Opening and flushing a qcow2 image: the tables are loaded and checked at open, and flush()
// writes the cached metadata in the crash-safe order.
#include "block/qcow2.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "block/image_lock.h"
#include "block/raw.h"

namespace vessel::block {

using namespace qcow2;

Qcow2Backend::Qcow2Backend(Fd fd, Header h, bool read_only, std::unique_ptr<BlockBackend> backing)
    : fd_(std::move(fd)),
      h_(std::move(h)),
      read_only_(read_only),
      backing_(std::move(backing)),
      file_{.fd = fd_.get()},
      refs_(file_, h_),
      l2_(file_, h_, refs_, [this] { return flush(); }) {}

Result<Header> Qcow2Backend::read_header(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) < 0) return fail_errno("stat qcow2 image");
  uint64_t file_size = static_cast<uint64_t>(st.st_size);
  std::vector<uint8_t> buf(std::min<uint64_t>(file_size, 1u << kMaxClusterBits));
  TRY(pread_exact(fd, buf.data(), buf.size(), 0));
  if (buf.size() >= kV2HeaderLength && be32(buf.data()) == kMagic) {
    uint32_t cb = be32(buf.data() + field::kClusterBits);
    if (cb >= kMinClusterBits && cb <= kMaxClusterBits && buf.size() > (1ull << cb))
      buf.resize(1ull << cb);
  }
  return parse_header(buf.data(), buf.size(), file_size);
}

Result<std::unique_ptr<Qcow2Backend>> Qcow2Backend::open(const std::string& path,
                                                         const OpenOptions& options,
                                                         std::unique_ptr<BlockBackend> backing,
                                                         bool allow_corrupt_read_only) {
  Fd fd = TRY_CTX(Fd::open(path, options.read_only ? O_RDONLY : O_RDWR), "open qcow2 image {}", path);
  TRY(lock_for_open(fd.get(), path, options));
  Header h = TRY_CTX(read_header(fd.get()), "{}", path);
  if (h.incompat & kIncompatCorrupt) {
    if (!options.read_only || !allow_corrupt_read_only)
      return Unexpected(Error(EROFS, fmt::format("{} is marked corrupt (incompatible feature bit 1); it opens read-only only", path))
                            .with_hint("inspect it with 'vessel-img check', repair with 'vessel-img check -r all'"));
  }
  if (!options.read_only && (h.incompat & kIncompatDirty))
    return Unexpected(Error(EUCLEAN, fmt::format("{} has the dirty bit set (lazy refcounts not flushed)", path))
                          .with_hint("repair it with 'vessel-img check -r all' first"));
  if (!options.read_only && h.nb_snapshots > 0)
    return fail(ENOTSUP, "{} has {} internal snapshots; writing such images is not supported", path, h.nb_snapshots);
  struct stat st {};
  ::fstat(fd.get(), &st);
  std::unique_ptr<Qcow2Backend> q(new Qcow2Backend(std::move(fd), std::move(h), options.read_only, std::move(backing)));
  q->file_.unsafe_cache = options.unsafe_cache;
  q->path_ = path;
  q->options_ = options;
  TRY_CTX(q->load_tables(static_cast<uint64_t>(st.st_size)), "{}", path);
  if (!q->read_only_ && q->h_.autoclear != 0) {
    // Autoclear features we do not maintain (bitmaps) must be cleared by any writer (qcow2 spec).
    q->h_.autoclear = 0;
    TRY(q->write_header_field64(field::kAutoclear, 0));
  }
  return q;
}

Result<void> Qcow2Backend::hand_over_lock(bool release) {
  if (read_only_ || path_.empty()) return {};
  return hand_over_image_lock(fd_.get(), path_, options_, release);
}

Result<void> Qcow2Backend::load_tables(uint64_t file_size) {
  uint64_t cs = h_.cluster_size();
  file_.next_free = (std::max<uint64_t>(file_size, cs) + cs - 1) & ~(cs - 1);
  file_.metadata.insert(0);
  TRY(l2_.read_l1());
  TRY(refs_.read_table());
  if (h_.nb_snapshots > 0) file_.add_metadata(h_.snapshots_offset, 1, h_);
  TRY(refs_.check_blocks(file_size));
  TRY(l2_.check_tables(file_size));
  if (!read_only_) TRY(refs_.find_allocation_end());
  return {};
}

Qcow2Backend::~Qcow2Backend() {
  if (!read_only_) (void)flush();
}

Result<void> Qcow2Backend::flush() {
  std::lock_guard lock(mu_);
  if (read_only_) return {};
  // 1. Refcounts (and the table that finds them) before anything refers to the clusters.
  TRY(refs_.write_blocks());
  if (refs_.table_dirty()) {
    TRY(file_.sync());
    TRY(refs_.write_table());
  }
  TRY(file_.sync());  // data and refcounts are durable
  // 2. L2 tables, then the L1 entries that point at them.
  bool wrote = TRY(l2_.write_tables());
  if (l2_.l1_dirty()) {
    if (wrote) TRY(file_.sync());
    TRY(l2_.write_l1());
    wrote = true;
  }
  if (wrote) TRY(file_.sync());
  // 3. Only now may clusters that nothing points at any more lose their references.
  return refs_.release_pending();
}

Result<void> Qcow2Backend::write_header_field64(int f, uint64_t value) {
  uint8_t b[8];
  put_be64(b, value);
  return pwrite_all(fd_.get(), b, 8, static_cast<uint64_t>(f));
}

Result<void> Qcow2Backend::mark_corrupt(const Error&) {
  if (read_only_ || h_.version < 3) {
    read_only_ = true;
    return {};
  }
  h_.incompat |= kIncompatCorrupt;
  auto r = write_header_field64(field::kIncompat, h_.incompat);
  read_only_ = true;  // no further writes: they could land on metadata
  if (r) (void)::fdatasync(fd_.get());
  return r;
}

}  // namespace vessel::block
