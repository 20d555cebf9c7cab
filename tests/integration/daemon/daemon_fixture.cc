#include "daemon_fixture.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "base/fd.h"

namespace fs = std::filesystem;

namespace vessel::test {

namespace {

std::string read_memfd(int fd) {
  off_t size = ::lseek(fd, 0, SEEK_END);
  std::string out(static_cast<size_t>(size > 0 ? size : 0), '\0');
  if (size > 0) (void)pread_exact(fd, out.data(), out.size(), 0);
  return out;
}

}  // namespace

std::string runtime_path() {
  const char* env = ::getenv("VESSEL_TEST_RUNTIME");
  return env && *env ? env : VESSEL_TEST_RUNTIME;
}
std::string vesseld_path() { return VESSELD_PATH; }
std::string vessel_path() { return VESSEL_PATH; }

bool alive(pid_t pid) {
  // A zombie is dead: an orphaned container init waits for PID 1 to reap it.
  if (pid <= 0) return false;
  auto stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return false;
  auto close = stat->rfind(')');
  return close != std::string::npos && close + 2 < stat->size() && (*stat)[close + 2] != 'Z' && (*stat)[close + 2] != 'X';
}

std::string test_cgroup_parent() { return "vessel-test-" + std::to_string(::getpid()); }

CliResult run(const std::vector<std::string>& argv, std::chrono::seconds timeout) {
  CliResult r;
  Fd out(::memfd_create("out", MFD_CLOEXEC)), err(::memfd_create("err", MFD_CLOEXEC));
  Fd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  SpawnOptions options;
  options.stdin_fd = null.get();
  options.stdout_fd = out.get();
  options.stderr_fd = err.get();
  auto p = Process::spawn(argv, options);
  if (!p) {
    r.err = p.error().to_string();
    return r;
  }
  auto status = p->wait_for(timeout);
  if (!status || !*status) {
    (void)p->signal(SIGKILL);
    (void)p->wait();
    r.err = "timed out";
    return r;
  }
  r.status = (*status)->exited() ? (*status)->code : 128 + (*status)->signal;
  r.out = read_memfd(out.get());
  r.err = read_memfd(err.get());
  return r;
}

TempDir::TempDir() {
  char tmpl[] = "/tmp/vessel-daemon-test.XXXXXX";
  path = ::mkdtemp(tmpl);
}

TempDir::~TempDir() {
  // Overlays left by a failed test: unmount before removing.
  std::ifstream mounts("/proc/self/mounts");
  std::string dev, dir, rest;
  std::vector<std::string> found;
  while (mounts >> dev >> dir && std::getline(mounts, rest))
    if (dir.rfind(path, 0) == 0) found.push_back(dir);
  for (auto it = found.rbegin(); it != found.rend(); ++it) ::umount2(it->c_str(), MNT_DETACH);
  std::error_code ec;
  fs::remove_all(path, ec);
}

void make_busybox_rootfs(const std::string& dir) {
  for (const char* d : {"bin", "proc", "sys", "dev", "tmp", "etc", "root"}) fs::create_directories(dir + "/" + d);
  fs::copy_file("/bin/busybox", dir + "/bin/busybox", fs::copy_options::overwrite_existing);
  for (const char* a : {"sh", "true", "false", "sleep", "cat", "ls", "ps", "echo", "id", "hostname", "trap", "kill", "env"})
    if (!fs::exists(dir + "/bin/" + a)) fs::create_symlink("busybox", dir + "/bin/" + a);
  std::ofstream(dir + "/etc/passwd") << "root:x:0:0:root:/root:/bin/sh\n";
  std::ofstream(dir + "/etc/group") << "root:x:0:\n";
}

std::string make_busybox_image_archive(const std::string& dir, const std::string& config) {
  std::string rootfs = dir + "/rootfs", img = dir + "/img";
  make_busybox_rootfs(rootfs);
  fs::create_directories(img);
  EXPECT_EQ(run({"tar", "-C", rootfs, "-cf", img + "/layer.tar", "."}).status, 0);
  auto sum = run({"sha256sum", img + "/layer.tar"});
  EXPECT_EQ(sum.status, 0);
  std::ofstream(img + "/cfg.json") << R"({"architecture":"amd64","os":"linux","config":)" << config
                                   << R"(,"rootfs":{"type":"layers","diff_ids":["sha256:)" << sum.out.substr(0, 64) << R"("]}})";
  std::ofstream(img + "/manifest.json") << R"([{"Config":"cfg.json","RepoTags":["localhost/test:latest"],"Layers":["layer.tar"]}])";
  EXPECT_EQ(run({"tar", "-C", img, "-cf", dir + "/image.tar", "manifest.json", "cfg.json", "layer.tar"}).status, 0);
  return dir + "/image.tar";
}

Daemon::Daemon(std::string dir, std::vector<std::string> extra)
    : dir_(std::move(dir)), socket_(dir_ + "/vessel.sock"), state_dir_(dir_ + "/state"), log_path_(dir_ + "/vesseld.log"),
      extra_(std::move(extra)) {
  // An explicit --state-dir in `extra` replaces the default one.
  for (size_t i = 0; i + 1 < extra_.size(); ++i)
    if (extra_[i] == "--state-dir") {
      state_dir_ = extra_[i + 1];
      extra_.erase(extra_.begin() + static_cast<long>(i), extra_.begin() + static_cast<long>(i) + 2);
      break;
    }
}

Daemon::~Daemon() {
  if (process_.running()) {
    // Leave nothing running: delete every instance, then stop the daemon.
    auto list = run({vessel_path(), "--socket", socket_, "ls", "--json"});
    auto j = json::parse(list.out);
    if (j && j->is_array())
      for (const auto& i : *j) run({vessel_path(), "--socket", socket_, "rm", "--force", i.value("name", "")});
    stop(SIGTERM);
  }
  remove_cgroup_parent(test_cgroup_parent());
}

void remove_cgroup_parent(const std::string& name) {
  // Once empty (rmdir fails harmlessly while guests remain); every v1 hierarchy, or v2's.
  for (const char* c : {"cpu", "cpuacct", "memory", "pids", "freezer", "devices", "blkio", "cpuset", "hugetlb", "net_cls", "perf_event", "systemd", "unified"})
    ::rmdir(("/sys/fs/cgroup/" + std::string(c) + "/" + name).c_str());
  ::rmdir(("/sys/fs/cgroup/" + name).c_str());
}

bool Daemon::start() {
  Fd log(::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  std::vector<std::string> argv{vesseld_path(), "--socket", socket_, "--state-dir", state_dir_, "--runtime", runtime_path()};
  // A second vesseld on this machine (vm_migrate_test.cc) brings its own.
  if (std::find(extra_.begin(), extra_.end(), "--cgroup-parent") == extra_.end())
    argv.insert(argv.end(), {"--cgroup-parent", test_cgroup_parent()});
  argv.insert(argv.end(), extra_.begin(), extra_.end());
  // No bridge, no nftables table unless a test asks (network_test.cc): loopback only, as before networks.
  if (std::find(extra_.begin(), extra_.end(), "--default-network") == extra_.end())
    argv.insert(argv.end(), {"--default-network", "none"});
  argv.insert(argv.begin(), launcher_.begin(), launcher_.end());
  SpawnOptions options;
  options.stdout_fd = log.get();
  options.stderr_fd = log.get();
  auto p = Process::spawn(argv, options);
  if (!p) return false;
  process_ = std::move(*p);
  for (int i = 0; i < 500; ++i) {
    if (auto r = run({vessel_path(), "--socket", socket_, "ls"}); r.status == 0) return true;
    auto done = process_.wait_for(std::chrono::milliseconds(20));
    if (done && *done) return false;
  }
  return false;
}

ExitStatus Daemon::stop(int sig) {
  (void)process_.signal(sig);
  auto s = process_.wait();
  return s ? *s : ExitStatus{};
}

std::string Daemon::log() const {
  auto text = read_file(log_path_);
  return text ? *text : std::string();
}

CliResult Daemon::vessel(const std::vector<std::string>& args) const {
  std::vector<std::string> argv{vessel_path(), "--socket", socket_};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv);
}

json::Json Daemon::vessel_json(const std::vector<std::string>& args) const {
  auto r = vessel(args);
  EXPECT_EQ(r.status, 0) << r.err;
  auto j = json::parse(r.out);
  EXPECT_TRUE(j.has_value()) << r.out;
  return j ? *j : json::Json();
}

SecondCgroupParent::~SecondCgroupParent() { remove_cgroup_parent(name); }

std::string state_of(const Daemon& d, const std::string& name) {
  auto j = d.vessel_json({"inspect", name});
  return j.is_object() ? j.value("state", "") : "";
}

std::vector<long> logged_counts(const Daemon& d, const std::string& name) {
  std::vector<long> out;
  std::string text = d.vessel({"logs", name}).out;
  std::regex line("count ([0-9]+)\r?\n");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), line); it != std::sregex_iterator(); ++it)
    out.push_back(std::stol((*it)[1]));
  return out;
}

}  // namespace vessel::test
