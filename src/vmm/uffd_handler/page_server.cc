#include "vmm/uffd_handler/page_server.h"

#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/log.h"
#include "vmm/memory/userfaultfd.h"

namespace vessel::vmm::uffd_handler {
namespace {

constexpr uint64_t kPage = 4096;

void set_bits(std::vector<uint64_t>& bits, uint64_t first, uint64_t end) {
  for (uint64_t p = first; p < end; ++p) bits[p / 64] |= 1ull << (p % 64);
}

}  // namespace

Result<std::vector<uint64_t>> data_pages(int fd, uint64_t size) {
  uint64_t pages = (size + kPage - 1) / kPage;
  std::vector<uint64_t> bits((pages + 63) / 64, 0);
  off_t at = 0;
  while (static_cast<uint64_t>(at) < size) {
    off_t data = ::lseek(fd, at, SEEK_DATA);
    if (data < 0 && errno == ENXIO) break;  // only a hole after `at`
    if (data < 0 && errno == EINVAL) {      // no SEEK_DATA here: every page counts as data
      set_bits(bits, 0, pages);
      break;
    }
    if (data < 0) return fail_errno("SEEK_DATA in the memory file");
    off_t hole = ::lseek(fd, data, SEEK_HOLE);
    if (hole < 0) return fail_errno("SEEK_HOLE in the memory file");
    set_bits(bits, static_cast<uint64_t>(data) / kPage, (static_cast<uint64_t>(hole) + kPage - 1) / kPage);
    at = hole;
  }
  return bits;
}

Result<PageServer> PageServer::create(int file_fd, uint64_t file_size, std::vector<snapshot::UffdRegion> regions) {
  TRY(snapshot::check_uffd_regions_fit(regions, file_size));
  auto data = TRY(data_pages(file_fd, file_size));
  Mmap map;
  if (file_size > 0) map = TRY_CTX(Mmap::map(file_fd, file_size, PROT_READ, MAP_PRIVATE), "map the memory file");
  return PageServer(std::move(map), std::move(data), std::move(regions));
}

bool PageServer::has_data(uint64_t offset, uint64_t len) const {
  for (uint64_t p = offset / kPage; p < (offset + len) / kPage; ++p)
    if ((data_[p / 64] >> (p % 64)) & 1) return true;
  return false;
}

Result<void> PageServer::serve(int uffd, uint64_t address) {
  for (const auto& r : regions_) {
    if (address < r.base_host_virt_addr || address - r.base_host_virt_addr >= r.size) continue;
    uint64_t in_region = (address - r.base_host_virt_addr) & ~(r.page_size - 1);
    uint64_t dst = r.base_host_virt_addr + in_region;
    uint64_t offset = r.offset + in_region;
    ++stats_.faults;
    // hugetlbfs has no zero page: a hole of a 2 MiB page is copied (it reads as zeros).
    if (r.page_size == kPage && !has_data(offset, kPage)) {
      ++stats_.zero_pages;
      return uffd::zeropage(uffd, dst, kPage);
    }
    stats_.copied_pages += r.page_size / kPage;
    return uffd::copy(uffd, dst, file_.data() + offset, r.page_size);
  }
  return fail(EFAULT, "a page fault at {:#x} lies outside every region the VMM sent", address);
}

Result<void> PageServer::run(int uffd, int socket, int vmm_pidfd) {
  for (;;) {
    pollfd fds[] = {{uffd, POLLIN, 0}, {vmm_pidfd >= 0 ? vmm_pidfd : socket, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return fail_errno("poll");
    }
    if (fds[0].revents & POLLIN) {
      for (;;) {
        auto event = TRY(uffd::read_event(uffd));
        if (!event) break;
        if (!event->pagefault) continue;
        auto served = serve(uffd, event->address);
        // ESRCH: the VMM's memory is gone (it exited between the fault and the copy).
        if (!served && served.error().errnum() == ESRCH) return {};
        TRY(std::move(served));
      }
    }
    if (fds[0].revents & (POLLERR | POLLHUP)) return fail(EIO, "the userfaultfd reports an error");
    if (fds[1].revents && vmm_pidfd >= 0) return {};  // the VMM exited
    if (fds[1].revents) {
      char byte;
      ssize_t n = ::recv(socket, &byte, 1, MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return {};  // the VMM exited
      if (n > 0) return fail(EPROTO, "the VMM sent bytes after the memory mappings");
    }
  }
}

}  // namespace vessel::vmm::uffd_handler
