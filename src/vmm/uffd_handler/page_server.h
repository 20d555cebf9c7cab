// vessel-uffd-handler's fault loop (docs/vmm/uffd.md): reads page faults from a VMM's userfaultfd
// and fills each page from the snapshot's memory file (UFFDIO_COPY), or with the zero page where
// the file has a hole (UFFDIO_ZEROPAGE, 4 KiB pages), until the VMM's connection ends.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/fd.h"
#include "vmm/snapshot/uffd_protocol.h"

namespace vessel::vmm::uffd_handler {

// Which pages of a memory file hold data, from SEEK_DATA/SEEK_HOLE (bit i: bytes [i * 4096, +4096)).
// A file system that reports no holes gives all pages as data.
Result<std::vector<uint64_t>> data_pages(int fd, uint64_t size);

struct ServeStats {
  uint64_t faults = 0, copied_pages = 0, zero_pages = 0;
};

class PageServer {
 public:
  // `file` (read-only, mapped here) holds guest RAM as the regions place it.
  static Result<PageServer> create(int file_fd, uint64_t file_size, std::vector<snapshot::UffdRegion> regions);

  // Fills the page of one fault. A fault outside every region is an error.
  Result<void> serve(int uffd, uint64_t address);
  // Serves `uffd` until the VMM exits (success): `vmm_pidfd` becomes readable, or, without one
  // (-1), `socket` ends. Firecracker closes its socket after the handshake, vessel-vmm keeps it
  // (and ends when it closes): with a pidfd the socket is only held, never read.
  Result<void> run(int uffd, int socket, int vmm_pidfd = -1);

  const ServeStats& stats() const { return stats_; }

 private:
  PageServer(Mmap file, std::vector<uint64_t> data, std::vector<snapshot::UffdRegion> regions)
      : file_(std::move(file)), data_(std::move(data)), regions_(std::move(regions)) {}
  bool has_data(uint64_t offset, uint64_t len) const;
  Mmap file_;
  std::vector<uint64_t> data_;
  std::vector<snapshot::UffdRegion> regions_;
  ServeStats stats_;
};

}  // namespace vessel::vmm::uffd_handler
