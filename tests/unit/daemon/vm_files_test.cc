// vessel cp's VM side (daemon/instances/vm_files.h) against the real static vessel-agent: a fake
// vsock socket answers Firecracker's "CONNECT 1024" handshake and hands each connection to the
// agent (--serve-fd), which works on this host's files. A tree becomes a tar and a tar a tree;
// what a VM cannot take (hard links, fifos, "..") is refused, and the byte bound holds.
#include "daemon/instances/vm_files.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "base/fd.h"
#include "files/tar_unpack.h"
#include "tar_builder.h"

namespace vessel::daemon {
namespace {

namespace fs = std::filesystem;

// A Unix socket that plays a VM's vsock device: each connection's "CONNECT 1024\n" is answered
// "OK 1\n", then the real agent serves it.
class FakeVsock {
 public:
  FakeVsock() {
    char t[] = "/tmp/vessel-vmfiles.XXXXXX";
    dir = ::mkdtemp(t);
    path = dir + "/vsock.sock";
    listener_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    EXPECT_EQ(::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(listener_, 8), 0);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeVsock() {
    ::shutdown(listener_, SHUT_RDWR);
    thread_.join();
    ::close(listener_);
    fs::remove_all(dir);
  }
  std::string dir, path;

 private:
  void serve() {
    for (;;) {
      int c = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) return;
      std::string line;
      char ch;
      while (line.size() < 32 && ::read(c, &ch, 1) == 1 && ch != '\n') line += ch;
      if (line != "CONNECT 1024" || ::write(c, "OK 1\n", 5) != 5) {
        ::close(c);
        continue;
      }
      pid_t pid = ::fork();
      if (pid == 0) {
        ::dup2(c, 3);
        ::execl(VESSEL_AGENT_BINARY, "vessel-agent", "--serve-fd", "3", nullptr);
        ::_exit(127);
      }
      ::close(c);
      ::waitpid(pid, nullptr, 0);
    }
  }
  int listener_ = -1;
  std::thread thread_;
};

std::string slurp(int fd) {
  std::string out;
  char buf[4096];
  ::lseek(fd, 0, SEEK_SET);
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  return out;
}

TEST(VmFiles, AGuestTreeBecomesATarAndATarATree) {
  FakeVsock vsock;
  std::string guest = vsock.dir + "/guest";
  fs::create_directories(guest + "/t/sub");
  std::ofstream(guest + "/t/a") << "alpha";
  std::ofstream(guest + "/t/sub/b") << std::string(100000, 'b');
  fs::create_symlink("/", guest + "/t/root");
  char t[] = "/tmp/vessel-vmfiles-tar.XXXXXX";
  Fd tar(::mkstemp(t));
  ::unlink(t);
  auto out = vm_tar_out(vsock.path, guest + "/t", false, "t", 1 << 20, tar.get());
  ASSERT_TRUE(out) << out.error().to_string();
  std::string bytes = slurp(tar.get());
  // Unpacked on the "host" as the CLI does: below the destination only.
  fs::create_directories(vsock.dir + "/host");
  auto root = files::ConfinedRoot::open(vsock.dir + "/host");
  auto in = files::open_tar_memory(bytes);
  ASSERT_TRUE(root && in);
  files::UnpackOptions o;
  o.chown = false;
  ASSERT_TRUE(files::unpack(*root, "", in->get(), o));
  EXPECT_EQ(read_file(vsock.dir + "/host/t/a").value_or(""), "alpha");
  EXPECT_EQ(fs::file_size(vsock.dir + "/host/t/sub/b"), 100000u);
  EXPECT_EQ(fs::read_symlink(vsock.dir + "/host/t/root"), "/");
  // And back into the "guest", under another directory.
  fs::create_directories(guest + "/in");
  auto back = vm_tar_in(vsock.path, guest + "/in", bytes, false);
  ASSERT_TRUE(back) << back.error().to_string();
  EXPECT_EQ(back->second, 100005u);
  EXPECT_EQ(read_file(guest + "/in/t/a").value_or(""), "alpha");
  EXPECT_EQ(fs::file_size(guest + "/in/t/sub/b"), 100000u);
}

TEST(VmFiles, TheByteBoundHolds) {
  FakeVsock vsock;
  std::string guest = vsock.dir + "/guest";
  fs::create_directories(guest);
  std::ofstream(guest + "/big") << std::string(5000, 'x');
  char t[] = "/tmp/vessel-vmfiles-tar.XXXXXX";
  Fd tar(::mkstemp(t));
  ::unlink(t);
  auto out = vm_tar_out(vsock.path, guest, false, "g", 1000, tar.get());
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().errnum(), EFBIG);
}

TEST(VmFiles, WhatAVmCannotTakeIsRefused) {
  FakeVsock vsock;
  std::string guest = vsock.dir + "/guest";
  fs::create_directories(guest);
  std::ofstream(vsock.dir + "/victim") << "safe";
  auto hard = vm_tar_in(vsock.path, guest,
                        test::make_tar({test::file("a", "x"), test::hardlink("h", "a")}), false);
  ASSERT_FALSE(hard);
  EXPECT_EQ(hard.error().errnum(), ENOTSUP);
  test::TarEntry fifo{test::TarEntry::Fifo, "f", ""};
  auto fifos = vm_tar_in(vsock.path, guest, test::make_tar({fifo}), false);
  ASSERT_FALSE(fifos);
  EXPECT_EQ(fifos.error().errnum(), ENOTSUP);
  auto up = vm_tar_in(vsock.path, guest, test::make_tar({test::file("../victim", "owned")}), false);
  ASSERT_FALSE(up);
  EXPECT_EQ(read_file(vsock.dir + "/victim").value_or(""), "safe");
  EXPECT_FALSE(
      vm_tar_in(vsock.path, guest + "/missing", test::make_tar({test::file("a", "x")}), false));
}

}  // namespace
}  // namespace vessel::daemon
