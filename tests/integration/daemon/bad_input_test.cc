// Bad input through the API: invalid names, absurd sizes, unknown fields, huge bodies, slow
// clients, racing creates, corrupt and future-versioned databases, a full disk.
#include <sqlite3.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "base/fd.h"
#include "http/http.h"
#include "daemon_fixture.h"

namespace vessel::test {
namespace {

struct Answer {
  long status = 0;
  json::Json body;
};

Answer api(const Daemon& d, const std::string& method, const std::string& path, const std::string& body = "") {
  http::ClientOptions o;
  o.unix_socket = d.socket();
  auto r = http::request(o, method, "http://localhost" + path, body);
  EXPECT_TRUE(r.has_value());
  if (!r) return {};
  return {r->status, json::parse(r->body).value_or(json::Json())};
}

Fd connect_raw(const std::string& path) {
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  EXPECT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  return fd;
}

class BadInput : public ::testing::Test {
 protected:
  void SetUp() override {
    make_busybox_rootfs(tmp.path + "/rootfs");
    ASSERT_TRUE(daemon.start()) << daemon.log();
  }
  std::string spec(const std::string& name, const std::string& extra = "") {
    return R"({"name":")" + name + R"(","rootfs":")" + tmp.path + "/rootfs\"" + extra + "}";
  }
  TempDir tmp;
  Daemon daemon{tmp.path, {"--idle-timeout", "2"}};
};

TEST_F(BadInput, InvalidNamesSizesAndFieldsAreRefusedWithTheFieldNamed) {
  struct Case {
    std::string body;
    long status;
    std::string mentions;
  };
  std::vector<Case> cases = {
      {spec("../etc"), 400, "spec.name"},
      {spec(std::string(64, 'a')), 400, "limit is 63"},
      {spec("ok", R"(,"memory_mib":99999999999)"), 400, "memory_mib"},
      {spec("ok", R"(,"cpus":0)"), 400, "cpus"},
      {spec("ok", R"(,"colour":"red")"), 400, "colour"},
      {spec("ok", R"(,"command":[1])"), 400, "command[0]"},
      {R"({"name":"ok"})", 400, "rootfs"},
      {"not json", 400, "spec"},
      {spec("ok", R"(,"memory_mib":1000000)"), 409, "not enough memory"},
      {spec("ok", R"(,"cpus":200)"), 409, "not enough CPU"},
  };
  for (const auto& c : cases) {
    auto a = api(daemon, "POST", "/v1/instances", c.body);
    EXPECT_EQ(a.status, c.status) << c.body;
    EXPECT_NE(a.body.value("error", "").find(c.mentions), std::string::npos) << c.body << " -> " << a.body.dump();
  }
  EXPECT_EQ(api(daemon, "GET", "/v1/instances/..%2F..%2Fetc").status, 400);
  EXPECT_EQ(api(daemon, "GET", "/v1/instances/nothere").status, 404);
  EXPECT_EQ(api(daemon, "POST", "/v1/instances/nothere/explode").status, 404);
  EXPECT_EQ(api(daemon, "PUT", "/v1/instances").status, 405);
  EXPECT_EQ(api(daemon, "GET", "/nope").status, 404);
  // Nothing was created by any of it.
  EXPECT_TRUE(api(daemon, "GET", "/v1/instances").body.empty());
}

TEST_F(BadInput, HugeBodyIsRefusedWithoutBeingRead) {
  Fd fd = connect_raw(daemon.socket());
  std::string head = "POST /v1/instances HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1073741824\r\n\r\n";
  ASSERT_TRUE(write_all(fd.get(), head.data(), head.size()));
  // The daemon may answer and close before this arrives: EPIPE, never SIGPIPE (it killed the test).
  std::string chunk(65536, 'a');
  (void)::send(fd.get(), chunk.data(), chunk.size(), MSG_NOSIGNAL);
  char buf[4096];
  ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
  ASSERT_GT(n, 0);
  std::string answer(buf, static_cast<size_t>(n));
  EXPECT_NE(answer.find("413"), std::string::npos) << answer;
  // The daemon still serves everyone else.
  EXPECT_EQ(api(daemon, "GET", "/v1/instances").status, 200);
}

TEST_F(BadInput, SlowClientIsDisconnectedAndDoesNotBlockOthers) {
  Fd slow = connect_raw(daemon.socket());
  std::string partial = "GET /v1/inst";
  ASSERT_TRUE(write_all(slow.get(), partial.data(), partial.size()));
  EXPECT_EQ(api(daemon, "GET", "/v1/instances").status, 200);  // served meanwhile
  timeval tv{10, 0};
  ::setsockopt(slow.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char buf[256];
  auto start = std::chrono::steady_clock::now();
  ssize_t n = ::recv(slow.get(), buf, sizeof buf, 0);
  EXPECT_EQ(n, 0) << "closed by the daemon (idle timeout 2 s)";
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(9));
}

TEST_F(BadInput, FollowedLogsOutliveTheIdleTimeout) {
  // The daemon runs with --idle-timeout 2: a quiet guest must not cut `logs -f`.
  ASSERT_EQ(daemon.vessel({"run", "--name", "quiet", "--rootfs", tmp.path + "/rootfs", "--", "/bin/sh", "-c",
                           "echo before; sleep 5; echo after"}).status, 0);
  auto r = daemon.vessel({"logs", "-f", "quiet"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "before\nafter\n") << r.err;
}

TEST_F(BadInput, ConcurrentCreatesOfOneNameExactlyOneWins) {
  std::atomic<int> created{0}, conflict{0}, other{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 10; ++i)
    threads.emplace_back([&] {
      auto a = api(daemon, "POST", "/v1/instances", spec("twin"));
      if (a.status == 201) created++;
      else if (a.status == 409 && a.body.value("error", "").find("already exists") != std::string::npos) conflict++;
      else other++;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(created.load(), 1);
  EXPECT_EQ(conflict.load(), 9);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(api(daemon, "GET", "/v1/instances").body.size(), 1u);
}

TEST(BadDatabase, CorruptDatabaseIsRefusedAndKept) {
  TempDir tmp;
  std::filesystem::create_directories(tmp.path + "/state");
  std::string garbage(10000, 'g');
  std::ofstream(tmp.path + "/state/vessel.db") << garbage;
  auto r = run({vesseld_path(), "--socket", tmp.path + "/s", "--state-dir", tmp.path + "/state"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("corrupt"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("never recreates"), std::string::npos) << r.err;
  EXPECT_EQ(*read_file(tmp.path + "/state/vessel.db"), garbage);
}

TEST(BadDatabase, FutureSchemaVersionIsRefused) {
  TempDir tmp;
  {
    Daemon d(tmp.path);
    ASSERT_TRUE(d.start()) << d.log();
  }
  sqlite3* db;
  ASSERT_EQ(sqlite3_open((tmp.path + "/state/vessel.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version=1000", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto r = run({vesseld_path(), "--socket", tmp.path + "/s", "--state-dir", tmp.path + "/state"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("schema version 1000 is newer"), std::string::npos) << r.err;
}

TEST(FullDisk, CreatesFailClearlyAndAcknowledgedOnesSurvive) {
  TempDir tmp;
  make_busybox_rootfs(tmp.path + "/rootfs");
  std::string state = tmp.path + "/small";
  std::filesystem::create_directories(state);
  ASSERT_EQ(::mount("tmpfs", state.c_str(), "tmpfs", 0, "size=2m"), 0) << strerror(errno);
  std::vector<std::string> acknowledged;
  {
    Daemon d(tmp.path, {"--state-dir", state + "/state"});
    ASSERT_TRUE(d.start()) << d.log();
    // Fill the disk, leaving the database a few pages at most.
    {
      std::ofstream fill(state + "/fill", std::ios::binary);
      std::string block(4096, 'f');
      while (fill.write(block.data(), block.size()) && fill.flush()) {}
    }
    long full_status = 0;
    std::string full_error;
    for (int i = 0; i < 400 && !full_status; ++i) {
      std::string name = "n" + std::to_string(i) + std::string(40, 'x');
      std::string body = R"({"name":")" + name + R"(","rootfs":")" + tmp.path + R"(/rootfs","labels":{"pad":")" + std::string(3000, 'p') + "\"}}";
      auto a = api(d, "POST", "/v1/instances", body);
      if (a.status == 201) acknowledged.push_back(name);
      else {
        full_status = a.status;
        full_error = a.body.value("error", "") + " / " + a.body.value("hint", "");
      }
    }
    EXPECT_EQ(full_status, 507);
    EXPECT_NE(full_error.find("full"), std::string::npos) << full_error;
    // The daemon lives on, and every acknowledged create is there.
    EXPECT_EQ(api(d, "GET", "/v1/instances").body.size(), acknowledged.size());
    std::filesystem::remove(state + "/fill");
    d.stop(SIGKILL);
  }
  Daemon again(tmp.path, {"--state-dir", state + "/state"});
  ASSERT_TRUE(again.start()) << again.log();
  auto list = api(again, "GET", "/v1/instances").body;
  EXPECT_EQ(list.size(), acknowledged.size());
  auto more = api(again, "POST", "/v1/instances", R"({"name":"after","rootfs":")" + tmp.path + "/rootfs\"}");
  EXPECT_EQ(more.status, 201) << more.body.dump();
  again.stop(SIGTERM);
  ::umount2(state.c_str(), MNT_DETACH);
}

}  // namespace
}  // namespace vessel::test
