#include "vmm/snapshot/state_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "base/fd.h"

#include "vmm/snapshot/byte_codec.h"
#include "vmm/snapshot/crc64.h"

namespace vessel::vmm::snapshot {
namespace {
constexpr size_t kHeaderBytes = 8 + 4 + 4 + 8;
constexpr size_t kSectionHeaderBytes = 4 + 4 + 8;
}  // namespace

std::vector<uint8_t> serialize(const std::vector<Section>& sections) {
  ByteWriter w;
  uint64_t content = 0;
  for (const auto& s : sections) content += kSectionHeaderBytes + s.bytes.size();
  w.put(kMagic);
  w.put<uint32_t>(kFormatVersion);
  w.put<uint32_t>(static_cast<uint32_t>(sections.size()));
  w.put<uint64_t>(content);
  std::vector<uint8_t> out = w.take();
  out.reserve(kHeaderBytes + content + 8);
  for (const auto& s : sections) {
    ByteWriter h;
    h.put<uint32_t>(s.id);
    h.put<uint32_t>(s.version);
    h.put<uint64_t>(s.bytes.size());
    auto head = h.take();
    out.insert(out.end(), head.begin(), head.end());
    out.insert(out.end(), s.bytes.begin(), s.bytes.end());
  }
  uint64_t crc = crc64(out);
  const auto* p = reinterpret_cast<const uint8_t*>(&crc);
  out.insert(out.end(), p, p + sizeof crc);
  return out;
}

Result<std::vector<Section>> parse(std::span<const uint8_t> file) {
  if (file.size() > kMaxStateFileBytes)
    return fail(EFBIG, "snapshot state file: {} bytes (at most {})", file.size(), kMaxStateFileBytes);
  if (file.size() < sizeof kMagic || std::memcmp(file.data(), kMagic, sizeof kMagic) != 0)
    return fail(EINVAL, "not a vessel snapshot state file (bad magic)");
  ByteReader r(file, "snapshot state file header");
  (void)TRY(r.get_raw(sizeof kMagic));
  uint32_t version = TRY(r.get<uint32_t>());
  if (version != kFormatVersion)
    return fail(ENOTSUP, "snapshot state file format version {} is not supported (this vessel-vmm reads {})",
                version, kFormatVersion);
  uint32_t count = TRY(r.get<uint32_t>());
  uint64_t content = TRY(r.get<uint64_t>());
  if (count > kMaxSections) return fail(EINVAL, "snapshot state file: {} sections (at most {})", count, kMaxSections);
  if (file.size() != kHeaderBytes + content + 8 || content > file.size())
    return fail(EINVAL, "snapshot state file is truncated or padded: {} bytes, the header says {}", file.size(),
                kHeaderBytes + content + 8);
  uint64_t stored;
  std::memcpy(&stored, file.data() + file.size() - 8, 8);
  uint64_t actual = crc64(file.first(file.size() - 8));
  if (stored != actual)
    return fail(EINVAL, "snapshot state file is corrupt: CRC64 {:#018x}, expected {:#018x}", actual, stored);

  ByteReader body(file.subspan(kHeaderBytes, content), "snapshot state file sections");
  std::vector<Section> sections;
  for (uint32_t i = 0; i < count; ++i) {
    Section s;
    s.id = TRY(body.get<uint32_t>());
    s.version = TRY(body.get<uint32_t>());
    uint64_t len = TRY(body.get<uint64_t>());
    auto bytes = TRY_CTX(body.get_raw(len), "section {} (id {})", i, s.id);
    s.bytes.assign(bytes.begin(), bytes.end());
    sections.push_back(std::move(s));
  }
  TRY(body.finish());
  return sections;
}

Result<std::vector<uint8_t>> read_state_file(const std::string& path) {
  auto fd = TRY_CTX(Fd::open(path, O_RDONLY | O_CLOEXEC), "snapshot_path {}", path);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return fail_errno("fstat {}", path);
  if (!S_ISREG(st.st_mode)) return fail(EINVAL, "snapshot_path {} is not a regular file", path);
  if (static_cast<uint64_t>(st.st_size) > kMaxStateFileBytes)
    return fail(EFBIG, "snapshot_path {}: {} bytes (a state file has at most {})", path, st.st_size,
                kMaxStateFileBytes);
  std::vector<uint8_t> bytes(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::pread(fd.get(), bytes.data() + done, bytes.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("read {}", path);
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  bytes.resize(done);
  return bytes;
}

}  // namespace vessel::vmm::snapshot
