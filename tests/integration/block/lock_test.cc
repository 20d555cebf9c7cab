// Image locks between vessel-img, qemu-img and qemu-io (QEMU's byte-range scheme, image_lock.h),
// and vessel-img's --backing-policy. A holder runs in the background (qemu-io waiting on its
// standard input, or a long vessel-img bench); the second opener must be refused with QEMU's
// words, or succeed with -U.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>

#include "base/fd.h"
#include "sh.h"
#include "../../unit/block/test_util.h"

namespace vessel::block::test {
namespace {

namespace fs = std::filesystem;

// Whether some other file description holds a lock on `byte` of `path`.
bool byte_locked(const std::string& path, int byte) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = byte;
  fl.l_len = 1;
  bool taken = ::fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
  ::close(fd);
  return taken;
}

bool wait_locked(const std::string& path, int byte) {
  for (int i = 0; i < 500; ++i) {
    if (byte_locked(path, byte)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

// A command in the background, in its own process group; killed at the end.
class Background {
 public:
  explicit Background(const std::string& cmd) {
    pid_ = ::fork();
    if (pid_ == 0) {
      ::setpgid(0, 0);
      ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  ~Background() {
    if (pid_ > 0) {
      ::kill(-pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

 private:
  pid_t pid_ = -1;
};

class Locks : public ::testing::Test {
 protected:
  TempDir dir;
  std::string img = dir.file("disk.qcow2");
  void SetUp() override { ASSERT_EQ(sh("qemu-img create -q -f qcow2 " + img + " 64M").code, 0); }
  test::Run img_cmd(const std::string& args) { return sh(vessel_img() + " " + args); }
};

TEST_F(Locks, VesselImgIsRefusedWhileQemuIoWritesAndMayReadWithU) {
  Background holder("sleep 60 | qemu-io -f qcow2 " + img + " >/dev/null 2>&1");
  ASSERT_TRUE(wait_locked(img, 101)) << "qemu-io did not lock the image";
  auto info = img_cmd("info " + img);
  EXPECT_EQ(info.code, 1) << info.out;
  EXPECT_NE(info.out.find("Failed to get shared \"write\" lock"), std::string::npos) << info.out;
  EXPECT_NE(info.out.find("qemu-io"), std::string::npos) << "the holder should be named: " << info.out;
  EXPECT_NE(info.out.find("-U"), std::string::npos) << info.out;
  auto resize = img_cmd("resize " + img + " +1M");
  EXPECT_EQ(resize.code, 1) << resize.out;
  EXPECT_NE(resize.out.find("Failed to get \"write\" lock"), std::string::npos) << resize.out;
  auto create = img_cmd("create -f qcow2 " + img + " 1M");
  EXPECT_EQ(create.code, 1) << create.out;
  EXPECT_NE(create.out.find("lock"), std::string::npos) << create.out;
  EXPECT_EQ(img_cmd("check " + img).code, 1);
  // -U, as qemu-img: reading verbs tolerate the writer.
  auto shared = img_cmd("info -U --output json " + img);
  EXPECT_EQ(shared.code, 0) << shared.out;
  EXPECT_NE(shared.out.find("\"virtual-size\": 67108864"), std::string::npos) << shared.out;
  EXPECT_EQ(img_cmd("check -U " + img).code, 0);
  EXPECT_EQ(img_cmd("map -U " + img).code, 0);
  EXPECT_EQ(img_cmd("convert -U -O raw " + img + " " + dir.file("copy.raw")).code, 0);
  EXPECT_EQ(img_cmd("compare -U " + img + " " + dir.file("copy.raw")).code, 0);
  // -U is for reading only.
  auto wrong = img_cmd("check -U -r all " + img);
  EXPECT_NE(wrong.code, 0) << wrong.out;
  // The create above did not truncate the image under its writer.
  EXPECT_EQ(sh("qemu-img info -U " + img + " | grep -q 'virtual size: 64 MiB'").code, 0);
}

TEST_F(Locks, QemuIsRefusedWhileVesselImgWritesAndReadersShare) {
  {
    Background writer("exec " + vessel_img() + " bench -w -q -c 100000000 -s 4K " + img);
    ASSERT_TRUE(wait_locked(img, 101)) << "vessel-img bench -w did not lock the image";
    auto info = sh("qemu-img info " + img);
    EXPECT_NE(info.code, 0) << info.out;
    EXPECT_NE(info.out.find("Failed to get shared \"write\" lock"), std::string::npos) << info.out;
    auto io = sh("qemu-io -f qcow2 -c 'write 0 512' " + img);
    EXPECT_NE(io.out.find("Failed to get \"write\" lock"), std::string::npos) << io.out;
    EXPECT_EQ(sh("qemu-img info -U " + img).code, 0);
    auto second = img_cmd("bench -w -q -c 1 " + img);
    EXPECT_EQ(second.code, 1) << second.out;
    EXPECT_NE(second.out.find("vessel-img"), std::string::npos) << "the holder should be named: " << second.out;
  }
  {
    Background reader("exec " + vessel_img() + " bench -q -c 100000000 -s 4K " + img);
    ASSERT_TRUE(wait_locked(img, 100)) << "vessel-img bench did not lock the image";
    EXPECT_EQ(sh("qemu-img info " + img).code, 0) << "readers share";
    EXPECT_EQ(img_cmd("info " + img).code, 0);
    EXPECT_EQ(img_cmd("compare " + img + " " + img).code, 0);
    auto io = sh("qemu-io -f qcow2 -c 'write 0 512' " + img);
    EXPECT_NE(io.out.find("Failed to get \"write\" lock"), std::string::npos) << io.out;
    auto w = img_cmd("resize " + img + " +1M");
    EXPECT_EQ(w.code, 1) << w.out;
    EXPECT_NE(w.out.find("Failed to get \"write\" lock"), std::string::npos) << w.out;
  }
  EXPECT_EQ(img_cmd("resize " + img + " +1M").code, 0) << "the locks go with their holders";
}

TEST_F(Locks, BackingFileOfAWrittenOverlayIsNotWritable) {
  std::string top = dir.file("top.qcow2");
  ASSERT_EQ(sh("qemu-img create -q -f qcow2 -b disk.qcow2 -F qcow2 " + top).code, 0);
  Background holder("sleep 60 | qemu-io -f qcow2 " + top + " >/dev/null 2>&1");
  ASSERT_TRUE(wait_locked(top, 101));
  auto base = img_cmd("resize " + img + " +1M");
  EXPECT_EQ(base.code, 1) << base.out;
  EXPECT_NE(base.out.find("Failed to get \"write\" lock"), std::string::npos) << base.out;
  EXPECT_EQ(img_cmd("info " + img).code, 0) << "the base may be read meanwhile";
}

// --backing-policy: vessel-img follows backing names as qemu-img does unless told otherwise.
TEST(BackingPolicy, VesselImgFollowsLikeQemuImgOrRefusesWhenAsked) {
  TempDir outside, dir;
  std::string secret = outside.file("secret.raw"), top = dir.file("top.qcow2");
  ASSERT_EQ(sh("printf 'HOST-SECRET' > " + secret + " && truncate -s 1M " + secret).code, 0);
  std::string before = sh("cat " + secret).out;
  ASSERT_EQ(sh("qemu-img create -q -f qcow2 -b " + secret + " -F raw " + top).code, 0);
  ASSERT_EQ(sh("qemu-io -f qcow2 -c 'write -P 0x41 0 64K' " + top).code, 0);
  // The default is qemu-img's: the whole chain, as qemu-img shows it.
  auto chain = sh(vessel_img() + " info --backing-chain --output json " + top);
  EXPECT_EQ(chain.code, 0) << chain.out;
  EXPECT_NE(chain.out.find(secret), std::string::npos) << chain.out;
  for (std::string policy : {"--backing-policy=inside", "--backing-policy=refuse"}) {
    SCOPED_TRACE(policy);
    for (std::string verb : {"info --backing-chain", "map", "convert -O raw", "compare", "commit"}) {
      std::string args = verb + " " + policy + " " + top;
      if (verb == "convert -O raw") args += " " + dir.file("out.raw");
      if (verb == "compare") args += " " + top;
      auto r = sh(vessel_img() + " " + args);
      EXPECT_EQ(r.code, verb == "compare" ? 2 : 1) << args << ": " << r.out;
      EXPECT_NE(r.out.find("names backing file '" + secret + "'"), std::string::npos) << args << ": " << r.out;
    }
    EXPECT_FALSE(fs::exists(dir.file("out.raw")));
  }
  // The same from the environment, for a whole site's scripts.
  auto env = sh("VESSEL_IMG_BACKING_POLICY=inside " + vessel_img() + " commit " + top);
  EXPECT_EQ(env.code, 1) << env.out;
  EXPECT_EQ(sh("cat " + secret).out, before) << "commit wrote into the file the overlay names";
  // Without the header info, the name alone is shown and nothing is opened.
  EXPECT_EQ(sh(vessel_img() + " info --backing-policy=refuse " + top).code, 0);
  // A relative name inside the folder is fine for 'inside'.
  ASSERT_EQ(sh("cp " + secret + " " + dir.file("base.raw") + " && qemu-img rebase -u -b base.raw -F raw " + top).code, 0);
  EXPECT_EQ(sh(vessel_img() + " convert --backing-policy=inside -O raw " + top + " " + dir.file("out.raw")).code, 0);
  EXPECT_EQ(sh("qemu-img compare -f qcow2 -F raw " + top + " " + dir.file("out.raw")).code, 0);
}

}  // namespace
}  // namespace vessel::block::test
