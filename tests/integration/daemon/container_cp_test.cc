// vessel cp with containers (docs/daemon/cp.md): the real CLI, vesseld and vessel-runtime. Files
// and trees both ways, running and stopped, Docker's rules for "/" and "/.", tar streams on
// stdin/stdout, clear errors, a symlink in the container that points at a host path (it resolves
// inside the container, on read and on write), and owners under --userns=auto.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "base/fd.h"
#include "daemon_fixture.h"

namespace vessel::test {
namespace {

namespace fs = std::filesystem;

class ContainerCp : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::chmod(tmp.path.c_str(), 0711), 0);  // for the --userns=auto container
    rootfs = tmp.path + "/rootfs";
    make_busybox_rootfs(rootfs);
    ASSERT_TRUE(daemon.start()) << daemon.log();
    local = tmp.path + "/local";
    fs::create_directories(local + "/tree/sub");
    std::ofstream(local + "/tree/a") << "alpha\n";
    std::ofstream(local + "/tree/sub/b") << std::string(300000, 'b');
    std::ofstream(local + "/file") << "one file\n";
    fs::create_directories(tmp.path + "/host");
    std::ofstream(tmp.path + "/host/secret") << "host data";
  }
  void run_container(const std::string& name, std::vector<std::string> flags = {}) {
    std::vector<std::string> args{"run", "--name", name, "--memory", "32M", "--rootfs", rootfs};
    args.insert(args.end(), flags.begin(), flags.end());
    args.insert(args.end(), {"--", "/bin/sleep", "1000"});
    auto r = daemon.vessel(args);
    ASSERT_EQ(r.status, 0) << r.err << daemon.log();
  }
  std::string exec(const std::string& name, const std::string& script) {
    auto r = daemon.vessel({"exec", name, "--", "/bin/sh", "-c", script});
    EXPECT_EQ(r.status, 0) << script << ": " << r.err << r.out;
    return r.out;
  }
  CliResult cp(const std::vector<std::string>& args) {
    std::vector<std::string> all{"cp"};
    all.insert(all.end(), args.begin(), args.end());
    return daemon.vessel(all);
  }
  std::string shell(const std::string& script) {
    auto r = run({"/bin/sh", "-c", script});
    EXPECT_EQ(r.status, 0) << script << ": " << r.err;
    return r.out;
  }
  std::string cli() { return vessel_path() + " --socket " + daemon.socket(); }
  TempDir tmp;
  std::string rootfs, local;
  Daemon daemon{tmp.path, {"--userns-pool", "3000000:131072"}};
};

TEST_F(ContainerCp, TreesAndFilesBothWaysWithDockersRules) {
  run_container("c");
  // A directory into an existing directory: /tmp/tree.
  auto r = cp({local + "/tree", "c:/tmp"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("Successfully copied"), std::string::npos) << r.err;
  EXPECT_EQ(exec("c", "cat /tmp/tree/a; wc -c < /tmp/tree/sub/b"), "alpha\n300000\n");
  // Its contents (/.) into a new directory, and a file under a new name.
  ASSERT_EQ(cp({"-q", local + "/tree/.", "c:/srv"}).status, 0);
  ASSERT_EQ(cp({"-q", local + "/file", "c:/etc/renamed"}).status, 0);
  EXPECT_EQ(exec("c", "cat /srv/a /etc/renamed"), "alpha\none file\n");
  // Files copied in belong to the container's root.
  EXPECT_EQ(exec("c", "busybox stat -c %u:%g /tmp/tree/a /etc/renamed"), "0:0\n0:0\n");
  // Out: a tree to a new directory, into an existing one, its contents, a file.
  exec("c", "mkdir -p /data/d && echo inside > /data/d/x && ln -s x /data/d/l");
  std::string out = tmp.path + "/out";
  fs::create_directories(out);
  ASSERT_EQ(cp({"-q", "c:/data/d", out + "/new"}).status, 0);
  EXPECT_EQ(read_file(out + "/new/x").value_or(""), "inside\n");
  EXPECT_EQ(fs::read_symlink(out + "/new/l"), "x");
  ASSERT_EQ(cp({"-q", "c:/data/d", out}).status, 0);
  EXPECT_EQ(read_file(out + "/d/x").value_or(""), "inside\n");
  fs::create_directories(out + "/contents");
  ASSERT_EQ(cp({"-q", "c:/data/d/.", out + "/contents"}).status, 0);
  EXPECT_EQ(read_file(out + "/contents/x").value_or(""), "inside\n");
  ASSERT_EQ(cp({"-q", "c:/tmp/tree/sub/b", out + "/b.copy"}).status, 0);
  EXPECT_EQ(fs::file_size(out + "/b.copy"), 300000u);
  // -L follows the link (inside the container).
  ASSERT_EQ(cp({"-q", "-L", "c:/data/d/l", out + "/followed"}).status, 0);
  EXPECT_EQ(read_file(out + "/followed").value_or(""), "inside\n");
}

TEST_F(ContainerCp, ATerminalSeesProgressForLargeCopies) {
  run_container("c");
  std::ofstream(local + "/big") << std::string(3 << 20, 'x');
  // On a terminal (script(1) gives one): a running count, then the summary.
  auto in = shell("script -qec '" + cli() + " cp " + local + "/big c:/tmp/big' /dev/null");
  EXPECT_NE(in.find("Copying to c"), std::string::npos) << in;
  EXPECT_NE(in.find("Successfully copied 3"), std::string::npos) << in;
  auto out = shell("script -qec '" + cli() + " cp c:/tmp/big " + tmp.path + "/big.out' /dev/null");
  EXPECT_NE(out.find("Copying from c"), std::string::npos) << out;
  EXPECT_EQ(fs::file_size(tmp.path + "/big.out"), 3u << 20);
  // -q: nothing at all.
  auto quiet =
      shell("script -qec '" + cli() + " cp -q c:/tmp/big " + tmp.path + "/big.q' /dev/null");
  EXPECT_EQ(quiet.find("Copying"), std::string::npos) << quiet;
  EXPECT_EQ(quiet.find("Successfully"), std::string::npos) << quiet;
}

TEST_F(ContainerCp, TarStreamsOnStdinAndStdout) {
  run_container("c");
  shell("cd " + local + " && tar -cf " + tmp.path + "/in.tar tree");
  shell(cli() + " cp - c:/tmp < " + tmp.path + "/in.tar");
  EXPECT_EQ(exec("c", "cat /tmp/tree/a"), "alpha\n");
  auto listing = shell(cli() + " cp c:/tmp/tree - | tar -tf -");
  EXPECT_NE(listing.find("tree/a"), std::string::npos) << listing;
  EXPECT_NE(listing.find("tree/sub/b"), std::string::npos) << listing;
}

TEST_F(ContainerCp, AStoppedContainerToo) {
  run_container("c");
  ASSERT_EQ(daemon.vessel({"stop", "--timeout", "1", "c"}).status, 0);
  ASSERT_EQ(cp({"-q", local + "/file", "c:/etc/while-stopped"}).status, 0);
  std::string out = tmp.path + "/stopped-out";
  auto r = cp({"-q", "c:/etc/while-stopped", out});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(read_file(out).value_or(""), "one file\n");
  ASSERT_EQ(daemon.vessel({"start", "c"}).status, 0);
  EXPECT_EQ(exec("c", "cat /etc/while-stopped"), "one file\n");
}

TEST_F(ContainerCp, ClearErrors) {
  run_container("c");
  auto r = cp({"nope:/etc/hosts", tmp.path + "/x"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("no instance named nope"), std::string::npos) << r.err;
  r = cp({"c:/no/such/path", tmp.path + "/x"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("no such file or directory"), std::string::npos) << r.err;
  r = cp({local + "/file", "c:/no-such-dir/"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("does not exist"), std::string::npos) << r.err;
  r = cp({local + "/tree", "c:/etc/passwd"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("cannot copy a directory to a file"), std::string::npos) << r.err;
  r = cp({local + "/file", "c:/etc/passwd/"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("not a directory"), std::string::npos) << r.err;
  r = cp({local + "/file", tmp.path + "/y"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("NAME:PATH"), std::string::npos) << r.err;
  // The API's status for a tar PUT onto a file: 400, the client's mistake.
  shell("cd " + local + " && tar -cf " + tmp.path + "/one.tar file");
  auto put = run({"curl", "-s", "-w", " %{http_code}", "--unix-socket", daemon.socket(), "-X",
                  "PUT", "--data-binary", "@" + tmp.path + "/one.tar",
                  "http://localhost/v1/instances/c/archive?path=/etc/passwd"});
  EXPECT_NE(put.out.find("not a directory"), std::string::npos) << put.out;
  EXPECT_EQ(put.out.substr(put.out.size() - 3), "400") << put.out;
  r = cp({"c:/etc/hosts", "c:/tmp"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("between instances"), std::string::npos) << r.err;
}

TEST_F(ContainerCp, ASymlinkToAHostPathResolvesInsideTheContainer) {
  run_container("c");
  std::string host = tmp.path + "/host";
  exec("c", "ln -s " + host + " /escape && ln -s " + host + "/secret /leak");
  // Reading: the host's secret is not what comes out (inside, the path does not exist).
  auto r = cp({"c:/escape/secret", tmp.path + "/got"});
  EXPECT_EQ(r.status, 1) << "copied " << read_file(tmp.path + "/got").value_or("");
  r = cp({"-L", "c:/leak", tmp.path + "/got2"});
  EXPECT_NE(read_file(tmp.path + "/got2").value_or(""), "host data");
  // Writing through the directory link lands in the container's <host> path, never the host's.
  exec("c", "mkdir -p " + host);
  ASSERT_EQ(cp({"-q", local + "/file", "c:/escape/secret"}).status, 0);
  EXPECT_EQ(read_file(host + "/secret").value_or(""), "host data");
  EXPECT_EQ(exec("c", "cat " + host + "/secret"), "one file\n");
  // Writing onto a symlink replaces the link, never the file it points at.
  ASSERT_EQ(cp({"-q", local + "/file", "c:/leak"}).status, 0);
  EXPECT_EQ(read_file(host + "/secret").value_or(""), "host data");
}

TEST_F(ContainerCp, UsernsAutoFilesBelongToTheContainersRoot) {
  run_container("u", {"--userns", "auto"});
  ASSERT_EQ(cp({"-q", local + "/tree", "u:/tmp"}).status, 0);
  EXPECT_EQ(exec("u", "busybox stat -c %u:%g /tmp/tree/a /tmp/tree/sub"), "0:0\n0:0\n");
  struct stat st {};
  ASSERT_EQ(::lstat((daemon.state_dir() + "/instances/u/upper/tmp/tree/a").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 3000000u);
  // Out, ids are the container's: -a keeps them in the archive.
  exec("u", "touch /owned && chown 7:8 /owned");
  auto listing = shell(cli() + " cp -a u:/owned - | tar -tvf - --numeric-owner");
  EXPECT_NE(listing.find("7/8"), std::string::npos) << listing;
}

}  // namespace
}  // namespace vessel::test
