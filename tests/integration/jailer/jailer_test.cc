// vessel-jailer around a real vessel-vmm (docs/vmm/sandbox.md): what /proc shows of the jailed VMM
// (seccomp on every thread, not root, its own root directory, PID and mount namespaces, its
// cgroup), that the guest still boots and powers off, and that each failing step is a clear error.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "base/fd.h"
#include "base/process.h"
#include "http/http.h"
#include "test_guests.h"

namespace vessel::jailer::test {
namespace {

constexpr uid_t kUid = 4242;

std::string status_field(const std::string& status, const std::string& key) {
  size_t at = status.rfind(key + ":", 0) == 0 ? 0 : status.find("\n" + key + ":");
  if (at == std::string::npos) return "?";
  if (at != 0) ++at;
  size_t start = status.find_first_not_of(" \t", at + key.size() + 1);
  return status.substr(start, status.find('\n', start) - start);
}

std::string link_of(const std::string& path) {
  char buf[256];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

class Jail {
 public:
  explicit Jail(const std::string& id) : id_(id) {
    char tmpl[] = "/tmp/vessel-jailer-test.XXXXXX";
    base_ = ::mkdtemp(tmpl);
    root_ = base_ + "/vessel-vmm/" + id + "/root";
    std::system(("mkdir -p '" + root_ + "'").c_str());
  }
  ~Jail() { std::system(("rm -rf '" + base_ + "'").c_str()); }
  // Puts a test-kit guest into the jail's root (the VMM sees it as /NAME).
  void add_guest(const std::string& name) {
    auto bytes = read_file(std::string(VESSEL_TEST_GUEST_DIR) + "/" + name);
    ASSERT_TRUE(bytes);
    ASSERT_TRUE(write_file(root_ + "/" + name, *bytes));
  }
  Result<Process> start(std::vector<std::string> vmm_args, std::vector<std::string> jailer_args = {}) {
    std::vector<std::string> argv{VESSEL_JAILER_PATH, "--id", id_, "--exec-file", VESSEL_VMM_PATH, "--uid",
                                  std::to_string(kUid), "--gid", std::to_string(kUid), "--chroot-base-dir", base_};
    argv.insert(argv.end(), jailer_args.begin(), jailer_args.end());
    argv.push_back("--");
    argv.insert(argv.end(), vmm_args.begin(), vmm_args.end());
    auto out = Fd::open(base_ + "/console.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    auto err = Fd::open(base_ + "/stderr.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    SpawnOptions opts;
    opts.stdout_fd = out->get();
    opts.stderr_fd = err->get();
    return Process::spawn(argv, opts);
  }
  std::string console() const { return read_file(base_ + "/console.txt").value_or(""); }
  std::string errors() const { return read_file(base_ + "/stderr.txt").value_or(""); }
  bool wait_for_console(const std::string& needle) const {
    for (int i = 0; i < 1500; ++i) {
      if (console().find(needle) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }
  pid_t vmm_pid() const {
    auto text = read_file(base_ + "/vessel-vmm/" + id_ + "/vessel-vmm.pid");
    return text ? std::atoi(text->c_str()) : 0;
  }
  const std::string& root() const { return root_; }
  const std::string& base() const { return base_; }

 private:
  std::string id_, base_, root_;
};

TEST(Jailer, TheJailedVmmIsConfinedAsProcShows) {
  Jail jail("confined");
  jail.add_guest("counter.elf");
  auto jailer = jail.start({"--kernel", "/counter.elf", "--cmdline", "count=100000", "--api-sock", "/api.sock",
                            "--shutdown-timeout", "1"});
  ASSERT_TRUE(jailer) << jailer.error().to_string();
  ASSERT_TRUE(jail.wait_for_console("count 1\r\n")) << jail.console() << jail.errors();
  pid_t pid = jail.vmm_pid();
  ASSERT_GT(pid, 0);
  auto status = read_file(fmt::format("/proc/{}/status", pid));
  ASSERT_TRUE(status);
  EXPECT_EQ(status_field(*status, "Uid"), "4242\t4242\t4242\t4242");
  EXPECT_EQ(status_field(*status, "Gid"), "4242\t4242\t4242\t4242");
  EXPECT_EQ(status_field(*status, "Groups"), "");
  EXPECT_EQ(status_field(*status, "CapEff"), "0000000000000000");
  EXPECT_EQ(status_field(*status, "NSpid"), fmt::format("{}\t1", pid));  // process 1 of its own PID namespace
  // Every thread runs under a seccomp filter.
  std::string task_dir = fmt::format("/proc/{}/task", pid);
  DIR* d = ::opendir(task_dir.c_str());
  ASSERT_NE(d, nullptr);
  int threads = 0;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    auto s = read_file(task_dir + "/" + e->d_name + "/status");
    if (!s) continue;
    ++threads;
    EXPECT_EQ(status_field(*s, "Seccomp"), "2") << "thread " << status_field(*s, "Name");
  }
  ::closedir(d);
  EXPECT_GE(threads, 3);
  // Its root is the jail's root directory, not the host's.
  struct stat its_root {}, jail_root {}, host_root {};
  ASSERT_EQ(::stat(fmt::format("/proc/{}/root/", pid).c_str(), &its_root), 0);
  ASSERT_EQ(::stat(jail.root().c_str(), &jail_root), 0);
  ASSERT_EQ(::stat("/", &host_root), 0);
  EXPECT_EQ(its_root.st_ino, jail_root.st_ino);
  EXPECT_FALSE(its_root.st_ino == host_root.st_ino && its_root.st_dev == host_root.st_dev);
  EXPECT_NE(::access(fmt::format("/proc/{}/root/etc/passwd", pid).c_str(), F_OK), 0) << "the host's files are reachable";
  // Its own PID and mount namespaces.
  EXPECT_NE(link_of(fmt::format("/proc/{}/ns/pid", pid)), link_of("/proc/self/ns/pid"));
  EXPECT_NE(link_of(fmt::format("/proc/{}/ns/mnt", pid)), link_of("/proc/self/ns/mnt"));
  EXPECT_EQ(link_of(fmt::format("/proc/{}/ns/net", pid)), link_of("/proc/self/ns/net"));  // no --netns
  // The API socket is reachable from the host under the jail's root.
  auto r = http::request({jail.root() + "/api.sock", std::chrono::seconds(10)}, "GET", "http://localhost/");
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_NE(r->body.find("Running"), std::string::npos) << r->body;
  // SIGTERM to the jailer reaches the VMM (process 1 of its namespace); the guest ignores
  // Ctrl+Alt+Del, so the VMM stops it after --shutdown-timeout and the jailer passes its status on.
  ASSERT_TRUE(jailer->signal(SIGTERM));
  auto st = jailer->wait_for(std::chrono::seconds(30));
  ASSERT_TRUE(st && *st) << jail.errors();
  EXPECT_EQ((*st)->code, 128 + SIGTERM) << (*st)->to_string() << jail.errors();
}

TEST(Jailer, TheGuestBootsAndPowersOffInTheJail) {
  Jail jail("hello");
  jail.add_guest("acpi_poweroff.elf");
  auto jailer = jail.start({"--kernel", "/acpi_poweroff.elf", "--metrics-file", "/metrics.json"});
  ASSERT_TRUE(jailer) << jailer.error().to_string();
  auto st = jailer->wait_for(std::chrono::seconds(60));
  ASSERT_TRUE(st && *st) << jail.console() << jail.errors();
  EXPECT_TRUE((*st)->success()) << (*st)->to_string() << "\n" << jail.errors();
  auto metrics = read_file(jail.root() + "/metrics.json");
  ASSERT_TRUE(metrics) << jail.errors();
  EXPECT_NE(metrics->find("\"poweroff\""), std::string::npos) << *metrics;
  // The exec file and the device nodes the jailer made, owned by the jail's user.
  struct stat kvm {};
  ASSERT_EQ(::stat((jail.root() + "/dev/kvm").c_str(), &kvm), 0);
  EXPECT_TRUE(S_ISCHR(kvm.st_mode));
  EXPECT_EQ(kvm.st_uid, kUid);
  EXPECT_EQ(::access((jail.root() + "/vessel-vmm").c_str(), X_OK), 0);
}

TEST(Jailer, TheCgroupIsMadeAndTheVmmIsInIt) {
  Jail jail("cgroup");
  jail.add_guest("counter.elf");
  struct statfs fs {};
  bool v2 = ::statfs("/sys/fs/cgroup", &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC;
  std::string limit = v2 ? "memory.max=268435456" : "memory.limit_in_bytes=268435456";
  auto jailer = jail.start({"--kernel", "/counter.elf", "--cmdline", "count=100000"},
                           {"--cgroup", limit, "--parent-cgroup", "vessel-jailer-test"});
  ASSERT_TRUE(jailer) << jailer.error().to_string();
  ASSERT_TRUE(jail.wait_for_console("count 1\r\n")) << jail.console() << jail.errors();
  auto cgroups = read_file(fmt::format("/proc/{}/cgroup", jail.vmm_pid()));
  ASSERT_TRUE(cgroups);
  std::string dir = v2 ? "/sys/fs/cgroup/vessel-jailer-test/cgroup" : "/sys/fs/cgroup/memory/vessel-jailer-test/cgroup";
  EXPECT_NE(cgroups->find(v2 ? "0::/vessel-jailer-test/cgroup" : "memory:/vessel-jailer-test/cgroup"), std::string::npos)
      << *cgroups;
  auto value = read_file(dir + (v2 ? "/memory.max" : "/memory.limit_in_bytes"));
  EXPECT_EQ(value.value_or(""), "268435456\n");
  // A killed jailer takes the VMM with it (its parent-death signal), and the cgroup empties.
  ASSERT_TRUE(jailer->signal(SIGKILL));
  (void)jailer->wait_for(std::chrono::seconds(10));
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    gone = ::kill(jail.vmm_pid(), 0) != 0 && errno == ESRCH;
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(gone) << "the VMM outlived its jailer";
  if (!gone) (void)::kill(jail.vmm_pid(), SIGKILL);
  for (int i = 0; i < 100 && ::rmdir(dir.c_str()) != 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ::rmdir(dir.substr(0, dir.rfind('/')).c_str());
}

// Runs `argv` to its end: its exit code and what it wrote on stderr.
std::pair<int, std::string> run_capturing_stderr(const Jail& jail, const std::vector<std::string>& argv) {
  auto err = Fd::open(jail.base() + "/err.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  SpawnOptions opts;
  opts.stderr_fd = err->get();
  auto p = Process::spawn(argv, opts);
  EXPECT_TRUE(p);
  if (!p) return {-1, ""};
  auto st = p->wait();
  return {st ? st->code : -1, read_file(jail.base() + "/err.txt").value_or("")};
}

TEST(Jailer, EachFailingStepIsAClearError) {
  Jail jail("errors");
  auto run = [&](std::vector<std::string> argv) {
    return run_capturing_stderr(jail, argv);
  };
  std::vector<std::string> common{VESSEL_JAILER_PATH, "--id", "errors", "--exec-file", VESSEL_VMM_PATH,
                                  "--chroot-base-dir", jail.base()};
  auto with = [&](std::vector<std::string> more) {
    auto v = common;
    v.insert(v.end(), more.begin(), more.end());
    return v;
  };
  auto [code, err] = run(with({"--uid", "0", "--gid", "0"}));
  EXPECT_EQ(code, 1);
  EXPECT_NE(err.find("must not be 0"), std::string::npos) << err;
  std::tie(code, err) = run(with({"--uid", "4242", "--gid", "4242", "--cgroup", "nodot"}));
  EXPECT_EQ(code, 1);
  EXPECT_NE(err.find("expected FILE=VALUE"), std::string::npos) << err;
  std::tie(code, err) = run(with({"--uid", "4242", "--gid", "4242", "--cgroup", "nosuchcontroller.x=1"}));
  EXPECT_EQ(code, 1);
  EXPECT_NE(err.find("nosuchcontroller"), std::string::npos) << err;
  // A failure in the child, after the fork (the exec file is not executable): reported by the jailer.
  ASSERT_EQ(::mkdir((jail.base() + "/bin").c_str(), 0755), 0);
  std::string text = jail.base() + "/bin/not-a-program";
  ASSERT_TRUE(write_file(text, "just text\n"));
  std::tie(code, err) = run({VESSEL_JAILER_PATH, "--id", "errors", "--exec-file", text, "--uid", "4242", "--gid", "4242",
                             "--chroot-base-dir", jail.base()});
  EXPECT_EQ(code, 1);
  EXPECT_NE(err.find("execute /not-a-program in the jail"), std::string::npos) << err;
}

// --mount: a host file mounted read-only and a host directory mounted read-write, inside the
// jail's own mount namespace only; what the VMM makes in the directory is seen on the host.
TEST(Jailer, MountedFilesAreThereReadOnlyWhereAskedAndNotOnTheHost) {
  Jail jail("mounts");
  std::string host = jail.base() + "/host";
  ASSERT_EQ(::mkdir(host.c_str(), 0755), 0);
  auto kernel = read_file(std::string(VESSEL_TEST_GUEST_DIR) + "/counter.elf");
  ASSERT_TRUE(kernel);
  ASSERT_TRUE(write_file(host + "/counter.elf", *kernel));
  ASSERT_EQ(::chmod((host + "/counter.elf").c_str(), 0644), 0);
  ASSERT_EQ(::mkdir((host + "/run").c_str(), 0700), 0);
  ASSERT_EQ(::chown((host + "/run").c_str(), kUid, kUid), 0);
  auto jailer = jail.start({"--kernel", "/boot/counter.elf", "--cmdline", "count=100000", "--api-sock", "/run/api.sock",
                            "--shutdown-timeout", "1"},
                           {"--mount", host + "/counter.elf:/boot/counter.elf:ro", "--mount", host + "/run:/run"});
  ASSERT_TRUE(jailer) << jailer.error().to_string();
  ASSERT_TRUE(jail.wait_for_console("count 1\r\n")) << jail.console() << jail.errors();
  pid_t pid = jail.vmm_pid();
  // The socket the VMM made in /run is in the host directory.
  struct stat sock {};
  ASSERT_EQ(::stat((host + "/run/api.sock").c_str(), &sock), 0) << jail.errors();
  EXPECT_TRUE(S_ISSOCK(sock.st_mode));
  auto mounts = read_file(fmt::format("/proc/{}/mountinfo", pid));
  ASSERT_TRUE(mounts);
  bool kernel_ro = false, run_rw = false;
  for (size_t at = 0, end; at < mounts->size(); at = end + 1) {
    end = mounts->find('\n', at);
    if (end == std::string::npos) end = mounts->size();
    std::string line = mounts->substr(at, end - at);
    if (line.find(" /boot/counter.elf ro,") != std::string::npos && line.find("nosuid,nodev,noexec") != std::string::npos) kernel_ro = true;
    if (line.find(" /run rw,") != std::string::npos) run_rw = true;
  }
  EXPECT_TRUE(kernel_ro) << *mounts;
  EXPECT_TRUE(run_rw) << *mounts;
  // On the host the mount point is an empty file: nothing was mounted outside the jail.
  struct stat point {};
  ASSERT_EQ(::stat((jail.root() + "/boot/counter.elf").c_str(), &point), 0);
  EXPECT_EQ(point.st_size, 0);
  ASSERT_TRUE(jailer->signal(SIGTERM));
  auto st = jailer->wait_for(std::chrono::seconds(30));
  ASSERT_TRUE(st && *st) << jail.errors();
}

TEST(Jailer, BadMountsAreRefused) {
  Jail jail("badmount");
  auto run = [&](std::vector<std::string> more) {
    std::vector<std::string> argv{VESSEL_JAILER_PATH, "--id", "badmount", "--exec-file", VESSEL_VMM_PATH, "--uid", "4242",
                                  "--gid", "4242", "--chroot-base-dir", jail.base()};
    argv.insert(argv.end(), more.begin(), more.end());
    return run_capturing_stderr(jail, argv);
  };
  for (const char* bad : {"relative:/x", "/etc/hostname:x", "/a:/b:/c", "/etc/hostname:/", "/etc/hostname:/../x"}) {
    auto [code, err] = run({"--mount", bad});
    EXPECT_EQ(code, 1) << bad;
    EXPECT_NE(err.find("--mount"), std::string::npos) << bad << ": " << err;
  }
  auto [code, err] = run({"--mount", jail.base() + "/missing:/x"});
  EXPECT_EQ(code, 1);
  EXPECT_NE(err.find("missing"), std::string::npos) << err;
  // A symbolic link on the way to a mount point (planted by an earlier VMM of this uid) is refused.
  ASSERT_EQ(::symlink("/tmp", (jail.root() + "/evil").c_str()), 0);
  std::tie(code, err) = run({"--mount", "/etc/hostname:/evil/hostname:ro"});
  EXPECT_EQ(code, 1);
  EXPECT_NE(err.find("not a directory"), std::string::npos) << err;
}

}  // namespace
}  // namespace vessel::jailer::test

namespace vessel::jailer::test {

// virtio-net in the jail: an unprivileged vessel-vmm without capabilities attaches to a tap that
// belongs to its uid (TUNSETIFF on an existing tap checks only the owner) and sends frames; a tap
// owned by someone else is a start error.
namespace {
bool make_tap(const std::string& name, int owner, bool on) {
  Fd fd(::open("/dev/net/tun", O_RDWR | O_CLOEXEC));
  struct {
    char name[16];
    short flags;
    char pad[22];
  } ifr{};
  std::snprintf(ifr.name, sizeof ifr.name, "%s", name.c_str());
  ifr.flags = 0x0002 | 0x1000 | 0x4000;  // IFF_TAP | IFF_NO_PI | IFF_VNET_HDR
  if (!fd || ::ioctl(fd.get(), 0x400454ca /* TUNSETIFF */, &ifr) != 0) return false;
  if (on && ::ioctl(fd.get(), 0x400454cc /* TUNSETOWNER */, owner) != 0) return false;
  return ::ioctl(fd.get(), 0x400454cb /* TUNSETPERSIST */, on ? 1 : 0) == 0;
}
}  // namespace

TEST(Jailer, TheJailedVmmAttachesToATapItsUidOwns) {
  ASSERT_EQ(::access("/dev/net/tun", R_OK | W_OK), 0);
  for (int owner : {int(kUid), 0}) {
    std::string tap = "vjt" + std::to_string(getpid() % 100000) + (owner ? "a" : "b");
    ASSERT_TRUE(make_tap(tap, owner, true)) << tap;
    Jail jail(owner ? "net" : "net-foreign");
    jail.add_guest("virtio_net.elf");
    std::string cfg = R"({"boot-source": {"kernel_image_path": "/virtio_net.elf", "boot_args": "mode=flood frames=3"},
      "machine-config": {"vcpu_count": 1, "mem_size_mib": 64},
      "network-interfaces": [{"iface_id": "eth0", "host_dev_name": ")" + tap + R"("}]})";
    ASSERT_TRUE(write_file(jail.root() + "/vm.json", cfg));
    auto jailer = jail.start({"--config-file", "/vm.json", "--metrics-file", "/metrics.json"});
    ASSERT_TRUE(jailer) << jailer.error().to_string();
    auto st = jailer->wait_for(std::chrono::seconds(60));
    (void)make_tap(tap, 0, false);
    ASSERT_TRUE(st && *st) << jail.console() << jail.errors();
    if (owner) {
      EXPECT_TRUE((*st)->success()) << (*st)->to_string() << "\n" << jail.console() << jail.errors();
      auto metrics = read_file(jail.root() + "/metrics.json").value_or("");
      EXPECT_NE(metrics.find("\"virtio-net\""), std::string::npos) << metrics;
      EXPECT_NE(jail.console().find("virtio-net: flooded 3 frames"), std::string::npos) << jail.console();
    } else {
      EXPECT_EQ((*st)->code, 1) << (*st)->to_string();
      EXPECT_NE(jail.errors().find("host_dev_name"), std::string::npos) << jail.errors();
    }
  }
}

// vhost-net in the jail (label `vhost`): the jailer made /dev/vhost-net for the VMM's uid, the
// unprivileged VMM opens it, and the device thread starts it under its own filter.
TEST(JailerVhost, TheJailedVmmServesItsTapWithVhostNet) {
  ASSERT_EQ(::access("/dev/vhost-net", R_OK | W_OK), 0) << "needs /dev/vhost-net (modprobe vhost_net)";
  std::string tap = "vjt" + std::to_string(getpid() % 100000) + "v";
  ASSERT_TRUE(make_tap(tap, int(kUid), true)) << tap;
  Jail jail("net-vhost");
  jail.add_guest("virtio_net.elf");
  std::string cfg = R"({"boot-source": {"kernel_image_path": "/virtio_net.elf", "boot_args": "mode=flood frames=3"},
    "machine-config": {"vcpu_count": 1, "mem_size_mib": 64},
    "network-interfaces": [{"iface_id": "eth0", "host_dev_name": ")" + tap + R"(", "vhost": "on"}]})";
  ASSERT_TRUE(write_file(jail.root() + "/vm.json", cfg));
  auto jailer = jail.start({"--config-file", "/vm.json", "--metrics-file", "/metrics.json"});
  ASSERT_TRUE(jailer) << jailer.error().to_string();
  auto st = jailer->wait_for(std::chrono::seconds(60));
  (void)make_tap(tap, 0, false);
  ASSERT_TRUE(st && *st) << jail.console() << jail.errors();
  EXPECT_TRUE((*st)->success()) << (*st)->to_string() << "\n" << jail.console() << jail.errors();
  auto metrics = read_file(jail.root() + "/metrics.json").value_or("");
  EXPECT_NE(metrics.find("\"backend\": \"vhost\""), std::string::npos) << metrics;  // dump(2)
  EXPECT_NE(jail.console().find("virtio-net: flooded 3 frames"), std::string::npos) << jail.console();
}

// A snapshot loaded with the Uffd memory backend by a jailed, unprivileged VMM: the jailer made
// /dev/userfaultfd for its uid (vm.unprivileged_userfaultfd stays 0), the VMM creates a uffd that
// sees KVM's faults and hands it to vessel-uffd-handler outside the jail, and the guest goes on.
TEST(JailerUffd, AJailedVmmLoadsASnapshotThroughAPageFaultHandler) {
  ASSERT_EQ(::access("/dev/userfaultfd", F_OK), 0) << "needs /dev/userfaultfd (Linux 6.1+)";
  auto call = [](const Jail& j, const std::string& method, const std::string& path, const std::string& body) {
    auto r = http::request({j.root() + "/api.sock", std::chrono::seconds(30)}, method, "http://localhost" + path, body);
    if (r && r->status >= 300) ADD_FAILURE() << method << " " << path << ": " << r->body;
    return r ? r->status : -1;
  };
  Jail first("uffd-save");
  first.add_guest("snapshot_counter.elf");
  auto a = first.start({"--kernel", "/snapshot_counter.elf", "--cmdline", "ticks=10 fill", "--mem-mib", "64",
                        "--api-sock", "/api.sock"});
  ASSERT_TRUE(a) << a.error().to_string();
  ASSERT_TRUE(first.wait_for_console("tick 2\r\n")) << first.console() << first.errors();
  ASSERT_EQ(call(first, "PATCH", "/vm", R"({"state": "Paused"})"), 204);
  ASSERT_EQ(call(first, "PUT", "/snapshot/create", R"({"snapshot_path": "/vm.state", "mem_file_path": "/vm.mem"})"), 204)
      << first.errors();
  (void)a->signal(SIGKILL);
  (void)a->wait();

  Jail second("uffd-load");
  second.add_guest("snapshot_counter.elf");
  ASSERT_EQ(std::system(("cp '" + first.root() + "/vm.state' '" + second.root() + "/vm.state'").c_str()), 0);
  ASSERT_EQ(::chown((second.root() + "/vm.state").c_str(), kUid, kUid), 0);
  std::string hsock = second.root() + "/h.sock";
  auto herr = Fd::open(second.base() + "/handler.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  SpawnOptions ho;
  ho.stderr_fd = herr->get();
  auto handler = Process::spawn({VESSEL_UFFD_HANDLER_PATH, "--mem-file", first.root() + "/vm.mem", "--socket", hsock}, ho);
  ASSERT_TRUE(handler) << handler.error().to_string();
  for (int i = 0; i < 500 && ::access(hsock.c_str(), F_OK) != 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(::chown(hsock.c_str(), kUid, kUid), 0);  // the handler's socket is 0600: the VMM's uid connects
  auto b = second.start({"--api-sock", "/api.sock"});
  ASSERT_TRUE(b) << b.error().to_string();
  for (int i = 0; i < 500 && ::access((second.root() + "/api.sock").c_str(), F_OK) != 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(call(second, "PUT", "/snapshot/load",
                 R"({"snapshot_path": "/vm.state", "mem_backend": {"backend_type": "Uffd", "backend_path": "/h.sock"},
                     "resume_vm": true})"),
            204)
      << second.errors() << read_file(second.base() + "/handler.txt").value_or("");
  auto st = b->wait_for(std::chrono::seconds(60));
  if (!st || !*st) (void)b->signal(SIGKILL);
  ASSERT_TRUE(st && *st) << second.console() << second.errors();
  EXPECT_TRUE((*st)->success()) << (*st)->to_string() << second.console() << second.errors();
  EXPECT_NE(second.console().find("memory ok"), std::string::npos) << second.console();
  EXPECT_NE(second.console().find("done 10"), std::string::npos) << second.console();
  auto hst = handler->wait_for(std::chrono::seconds(10));
  ASSERT_TRUE(hst && *hst);
  EXPECT_TRUE((*hst)->success()) << read_file(second.base() + "/handler.txt").value_or("");
}

}  // namespace vessel::jailer::test
