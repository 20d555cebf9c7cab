// vessel-uffd-handler's side (vmm/uffd_handler/): the handshake refuses a message without exactly
// one userfaultfd or with bad mappings, over a real Unix socket; the data-page map follows the
// memory file's holes. No userfaultfd is created (unit tests run without privileges).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "base/unix_socket.h"
#include "vmm/uffd_handler/handshake.h"
#include "vmm/uffd_handler/page_server.h"

namespace vessel::vmm::uffd_handler {
namespace {

const std::string kGood = R"([{"base_host_virt_addr": 4096, "size": 8192, "offset": 0, "page_size": 4096}])";

bool any_fd(int) { return true; }
bool no_fd(int) { return false; }

Fd devnull() { return Fd(::open("/dev/null", O_RDONLY | O_CLOEXEC)); }

std::vector<Fd> fds(int n) {
  std::vector<Fd> out;
  for (int i = 0; i < n; ++i) out.push_back(devnull());
  return out;
}

TEST(UffdHandshake, AGoodMessageWithOneUffdIsAccepted) {
  auto h = check_handshake(kGood, fds(1), 8192, any_fd);
  ASSERT_TRUE(h) << h.error().to_string();
  EXPECT_EQ(h->regions.size(), 1u);
  EXPECT_TRUE(h->uffd.valid());
}

TEST(UffdHandshake, BadMessagesAreRefusedWithTheirReason) {
  struct Case {
    std::string data;
    int fd_count;
    bool (*is_uffd)(int);
    uint64_t file_size;
    const char* message;
  };
  const Case cases[] = {
      {kGood, 0, any_fd, 8192, "sent 0 file descriptors"},
      {kGood, 2, any_fd, 8192, "sent 2 file descriptors"},
      {kGood, 1, no_fd, 8192, "is not a userfaultfd"},
      {"garbage", 1, any_fd, 8192, "not JSON"},
      {kGood, 1, any_fd, 4096, "lies beyond the memory file"},
  };
  for (const auto& c : cases) {
    auto h = check_handshake(c.data, fds(c.fd_count), c.file_size, c.is_uffd);
    ASSERT_FALSE(h) << c.message;
    EXPECT_NE(h.error().to_string().find(c.message), std::string::npos) << h.error().to_string();
  }
}

// A client on a real socket: garbage with an fd that is no uffd, then one that sends nothing.
TEST(UffdHandshake, AcceptRefusesWhatARealClientSends) {
  char tmpl[] = "/tmp/vessel-uffd-test.XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  std::string path = dir + "/h.sock";
  auto listener = unix_socket::listen(path);
  ASSERT_TRUE(listener) << listener.error().to_string();
  std::thread client([&] {
    auto c = unix_socket::connect(path);
    if (!c) return;
    Fd null = devnull();
    (void)unix_socket::send_fd(c->get(), null.get(), kGood);
  });
  auto h = accept_vm(listener->get(), 8192);
  client.join();
  ASSERT_FALSE(h);
  EXPECT_NE(h.error().to_string().find("is not a userfaultfd"), std::string::npos) << h.error().to_string();

  std::thread quiet([&] { auto c = unix_socket::connect(path); });
  auto none = accept_vm(listener->get(), 8192);
  quiet.join();
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().to_string().find("closed the connection without sending the memory mappings"), std::string::npos)
      << none.error().to_string();
  ::unlink(path.c_str());
  ::rmdir(dir.c_str());
}

TEST(UffdPageServer, TheDataMapFollowsTheFilesHoles) {
  char tmpl[] = "/dev/shm/vessel-uffd-mem.XXXXXX";
  Fd fd(::mkstemp(tmpl));
  ASSERT_TRUE(fd.valid());
  ::unlink(tmpl);
  ASSERT_EQ(::ftruncate(fd.get(), 64 * 4096), 0);
  uint64_t one = 1;
  ASSERT_TRUE(pwrite_all(fd.get(), &one, sizeof one, 3 * 4096 + 100));
  ASSERT_TRUE(pwrite_all(fd.get(), &one, sizeof one, 40 * 4096));
  auto bits = data_pages(fd.get(), 64 * 4096);
  ASSERT_TRUE(bits) << bits.error().to_string();
  ASSERT_EQ(bits->size(), 1u);
  EXPECT_EQ((*bits)[0], (1ull << 3) | (1ull << 40));
}

}  // namespace
}  // namespace vessel::vmm::uffd_handler
