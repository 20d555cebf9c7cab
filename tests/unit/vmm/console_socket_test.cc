// vessel-vmm's console socket without a VM: output fans out to every client, input reaches the
// UART only as fast as it takes it, a half-closed client still gets output, a silent client
// never blocks the guest.
#include <gtest/gtest.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <mutex>
#include <thread>

#include "vmm/devices/legacy/console_socket.h"

namespace vessel::vmm {
namespace {

Fd connect_to(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  EXPECT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << strerror(errno);
  return fd;
}

// Reads until `want` bytes arrived or 5 s passed.
std::string read_n(int fd, size_t want) {
  std::string got;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (got.size() < want && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[4096];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  return got;
}

template <typename Pred>
bool eventually(Pred pred) {
  for (int i = 0; i < 250; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

class ConsoleSocketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char d[] = "/tmp/vessel-console-XXXXXX";
    ASSERT_NE(::mkdtemp(d), nullptr);
    dir = d;
    path = dir + "/console.sock";
  }
  void TearDown() override { std::filesystem::remove_all(dir); }
  // The "UART": takes at most 3 bytes per call, like a FIFO with little room.
  size_t take(std::string_view b) {
    std::lock_guard lock(mu);
    size_t n = std::min<size_t>(3, b.size());
    received.append(b.substr(0, n));
    return n;
  }
  std::string got() {
    std::lock_guard lock(mu);
    return received;
  }
  std::string dir, path;
  std::mutex mu;
  std::string received;
};

TEST_F(ConsoleSocketTest, OutputReachesEveryClientAndInputTheUart) {
  auto c = ConsoleSocket::listen(path, [this](std::string_view b) { return take(b); });
  ASSERT_TRUE(c.has_value()) << c.error().to_string();
  Fd a = connect_to(path), b = connect_to(path);
  ASSERT_TRUE(eventually([&] { return (*c)->clients() == 2; }));
  (*c)->output("hello ");
  (*c)->output("world");
  EXPECT_EQ(read_n(a.get(), 11), "hello world");
  EXPECT_EQ(read_n(b.get(), 11), "hello world");
  // 26 bytes through a UART that takes 3 at a time: all arrive, in order.
  std::string alphabet = "abcdefghijklmnopqrstuvwxyz";
  ASSERT_EQ(::write(a.get(), alphabet.data(), alphabet.size()), static_cast<ssize_t>(alphabet.size()));
  EXPECT_TRUE(eventually([&] { return got() == alphabet; })) << got();
  // A client that is done sending still gets output.
  ::shutdown(a.get(), SHUT_WR);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  (*c)->output("more");
  EXPECT_EQ(read_n(a.get(), 4), "more");
  b.reset();
  EXPECT_TRUE(eventually([&] { return (*c)->clients() == 1; }));
}

TEST_F(ConsoleSocketTest, ASilentClientNeverBlocksTheGuest) {
  auto c = ConsoleSocket::listen(path, [this](std::string_view b) { return take(b); });
  ASSERT_TRUE(c.has_value());
  Fd silent = connect_to(path);
  ASSERT_TRUE(eventually([&] { return (*c)->clients() == 1; }));
  std::string chunk(64 << 10, 'x');
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 64; ++i) (*c)->output(chunk);  // 4 MiB nobody reads
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_TRUE(eventually([&] { return (*c)->dropped_bytes() > 0; }));
}

// vessel-vmm closes the console right after the guest's last write (a '.' to serial_echo prints
// "bye" and powers off): that output still reaches the clients, then they see the end.
TEST_F(ConsoleSocketTest, TheLastOutputReachesTheClientsBeforeTheSocketCloses) {
  auto c = ConsoleSocket::listen(path, [this](std::string_view b) { return take(b); });
  ASSERT_TRUE(c.has_value());
  Fd client = connect_to(path);
  ASSERT_TRUE(eventually([&] { return (*c)->clients() == 1; }));
  std::string got;
  std::thread reader([&] { got = read_n(client.get(), std::string::npos); });  // until the end of the stream
  for (int i = 0; i < 100; ++i) (*c)->output("last words ");
  c->reset();
  reader.join();
  EXPECT_EQ(got.size(), 100 * std::string("last words ").size());
  EXPECT_EQ(got.substr(got.size() - 11), "last words ");
  EXPECT_FALSE(std::filesystem::exists(path));
}

// A client that reads nothing does not hold the VMM's exit up for long.
TEST_F(ConsoleSocketTest, ASilentClientDelaysTheCloseByAtMostASecond) {
  auto c = ConsoleSocket::listen(path, [this](std::string_view b) { return take(b); });
  ASSERT_TRUE(c.has_value());
  Fd silent = connect_to(path);
  ASSERT_TRUE(eventually([&] { return (*c)->clients() == 1; }));
  std::string chunk(64 << 10, 'x');
  for (int i = 0; i < 16; ++i) (*c)->output(chunk);
  auto start = std::chrono::steady_clock::now();
  c->reset();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
}

TEST_F(ConsoleSocketTest, RefusesToReplaceAFileThatIsNotASocket) {
  ASSERT_TRUE(write_file(path, "precious").has_value());
  auto c = ConsoleSocket::listen(path, [](std::string_view b) { return b.size(); });
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error().errnum(), EEXIST);
  EXPECT_EQ(read_file(path).value_or(""), "precious");
}

}  // namespace
}  // namespace vessel::vmm
