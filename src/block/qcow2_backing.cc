// The backing file of a qcow2 image: reads of unallocated clusters go to it (zeros past its end),
// and set_backing rewrites its name and format in the header cluster (rebase, commit).
#include <sys/stat.h>

#include <algorithm>
#include <cstring>

#include "block/qcow2.h"
#include "block/raw.h"

namespace vessel::block {

using namespace qcow2;

Result<void> Qcow2Backend::read_backing(uint64_t offset, std::span<const iovec> iov) {
  uint64_t len = iov_length(iov);
  uint64_t bsize = backing_ ? backing_->size() : 0;
  if (!backing_ || offset >= bsize) {
    zero_iov(iov);
    return {};
  }
  if (len <= bsize - offset) return backing_->readv(offset, iov);
  IovCursor cur(iov);
  std::vector<iovec> in, out;
  cur.take(bsize - offset, in);
  cur.take(len - (bsize - offset), out);
  TRY(backing_->readv(offset, in));
  zero_iov(out);
  return {};
}

Result<void> Qcow2Backend::set_backing(const std::string& file, const std::string& format) {
  std::lock_guard lock(mu_);
  if (read_only_) return fail(EROFS, "qcow2 image is read-only");
  TRY(flush());
  uint64_t cs = h_.cluster_size();
  std::vector<uint8_t> hdr(cs);
  TRY(pread_exact(fd_.get(), hdr.data(), hdr.size(), 0));
  std::vector<uint8_t> tail;
  auto put_ext = [&](uint32_t type, const std::string& data) {
    size_t at = tail.size();
    tail.resize(at + 8 + ((data.size() + 7) & ~size_t{7}), 0);
    put_be32(&tail[at], type);
    put_be32(&tail[at + 4], static_cast<uint32_t>(data.size()));
    memcpy(&tail[at + 8], data.data(), data.size());
  };
  for (const auto& e : h_.extensions)
    if (e.type != kExtBackingFormat) put_ext(e.type, e.data);
  if (!file.empty() && !format.empty()) put_ext(kExtBackingFormat, format);
  tail.resize(tail.size() + 8, 0);  // end marker
  uint64_t name_at = h_.header_length + tail.size();
  if (file.size() > kMaxBackingNameBytes || name_at + file.size() > cs)
    return fail(ENAMETOOLONG, "backing file name does not fit in the header cluster");
  std::fill(hdr.begin() + h_.header_length, hdr.end(), 0);
  memcpy(&hdr[h_.header_length], tail.data(), tail.size());
  memcpy(&hdr[name_at], file.data(), file.size());
  put_be64(&hdr[field::kBackingOffset], file.empty() ? 0 : name_at);
  put_be32(&hdr[field::kBackingSize], static_cast<uint32_t>(file.size()));
  TRY(pwrite_all(fd_.get(), hdr.data(), hdr.size(), 0));
  TRY(file_.sync());
  struct stat st {};
  ::fstat(fd_.get(), &st);
  h_ = TRY(parse_header(hdr.data(), hdr.size(), static_cast<uint64_t>(st.st_size)));
  return {};
}

}  // namespace vessel::block
