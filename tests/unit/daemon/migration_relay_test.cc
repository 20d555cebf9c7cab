// MigrationRelay, the source's end of a migration stream relayed through the vesselds: the VMM's
// connection to its socket is joined to the stream, the answer's early bytes first; it ends (and
// removes its socket) whether or not the VMM ever connected.
#include "daemon/instances/migration_relay.h"

#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>

#include <gtest/gtest.h>

#include "base/unix_socket.h"

namespace vessel::daemon {
namespace {

struct RelayTest : ::testing::Test {
  RelayTest() {
    char t[] = "/tmp/vessel-relay-test.XXXXXX";
    dir = ::mkdtemp(t);
    int s[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s), 0);
    stream = Fd(s[0]);
    destination = Fd(s[1]);
  }
  ~RelayTest() override { std::filesystem::remove_all(dir); }
  std::string read_some(int fd, size_t want) {
    std::string out;
    char buf[256];
    while (out.size() < want) {
      ssize_t n = ::read(fd, buf, std::min(sizeof buf, want - out.size()));
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }
  std::string dir;
  Fd stream, destination;  // the relay's end of the stream, and the destination's (the test's)
};

TEST_F(RelayTest, TheVmmsConnectionIsJoinedToTheStream) {
  std::string path = dir + "/relay.sock";
  auto relay = MigrationRelay::start(path, std::move(stream), "early;");
  ASSERT_TRUE(relay) << relay.error().to_string();
  EXPECT_EQ((*relay)->path(), path);
  auto vmm = unix_socket::connect(path);
  ASSERT_TRUE(vmm) << vmm.error().to_string();
  EXPECT_EQ(read_some(vmm->get(), 6), "early;");
  ASSERT_TRUE(unix_socket::send_all(vmm->get(), "memory and state"));
  EXPECT_EQ(read_some(destination.get(), 16), "memory and state");
  ASSERT_TRUE(unix_socket::send_all(destination.get(), "Done"));
  EXPECT_EQ(read_some(vmm->get(), 4), "Done");
  relay->reset();
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_EQ(read_some(vmm->get(), 1), "") << "the VMM's connection ends with the relay";
}

TEST_F(RelayTest, ItEndsWhenTheVmmNeverCame) {
  std::string path = dir + "/relay.sock";
  auto relay = MigrationRelay::start(path, std::move(stream), "");
  ASSERT_TRUE(relay) << relay.error().to_string();
  auto began = std::chrono::steady_clock::now();
  relay->reset();
  EXPECT_LT(std::chrono::steady_clock::now() - began, std::chrono::seconds(5));
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_EQ(read_some(destination.get(), 1), "") << "the stream toward the destination is shut";
}

}  // namespace
}  // namespace vessel::daemon
