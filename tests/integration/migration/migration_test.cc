// Live migration between two vessel-vmm processes on this host (docs/vmm/migration.md), with the
// test-kit guests: a guest counting in a register and in memory goes on from the exact count in
// the receiver with every page right; a guest that keeps rewriting all of its RAM arrives with
// every page right; a receiver killed mid-stream leaves the sender running (and a second migration
// then succeeds); a sender killed mid-stream makes the receiver exit with the error; a garbage
// stream is refused with its reason; a paused VM arrives paused, over TCP.
#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>

#include <cstring>
#include <future>
#include <regex>

#include "base/unix_socket.h"
#include "free_tcp_port.h"
#include "http/http.h"
#include "vmm_harness.h"

namespace vessel::vmm::test {
namespace {

using namespace std::chrono_literals;
using vessel::test::free_tcp_port;

http::ClientResponse call(const std::string& sock, const std::string& method, const std::string& path,
                          const std::string& body = {}) {
  http::ClientOptions o;
  o.unix_socket = sock;
  o.timeout = std::chrono::seconds(120);
  auto r = http::request(o, method, "http://localhost" + path, body);
  EXPECT_TRUE(r) << (r ? "" : r.error().to_string());
  return r.value_or(http::ClientResponse{});
}

std::string send_body(const std::string& url) { return json::Json{{"destination_url", url}}.dump(); }

// The "tick N" (or "pass N") lines of a console, in order, complete lines only.
std::vector<long> numbers(const std::string& console, const char* word) {
  std::regex re(std::string(word) + " (\\d+)\r\n");
  std::vector<long> out;
  for (auto it = std::sregex_iterator(console.begin(), console.end(), re); it != std::sregex_iterator(); ++it) {
    auto at = it->position(0);
    if (at == 0 || console[at - 1] == '\n') out.push_back(std::stol((*it)[1]));
  }
  return out;
}

// The sender's console followed by the receiver's counts 1, 2, ..., `last` without a gap or a
// repeat (the pause may have cut a line, which the receiver finishes), and the receiver counted.
::testing::AssertionResult counts_on(const std::string& before, const std::string& after, const char* word, long last) {
  auto all = numbers(before + after, word);
  for (size_t i = 0; i < all.size(); ++i)
    if (all[i] != static_cast<long>(i) + 1)
      return ::testing::AssertionFailure() << word << " " << all[i] << " where " << i + 1 << " belongs; sender:\n"
                                           << before << "\nreceiver:\n" << after;
  if (all.empty() || all.back() != last)
    return ::testing::AssertionFailure() << "the count did not reach " << last << "; receiver:\n" << after;
  if (numbers(after, word).empty()) return ::testing::AssertionFailure() << "the receiver did not count:\n" << after;
  return ::testing::AssertionSuccess();
}

// Resident memory of a process, in MiB (the receiver's grows as guest pages arrive).
long rss_mib(pid_t pid) {
  auto status = read_file(fmt::format("/proc/{}/status", pid));
  if (!status) return -1;
  auto at = status->find("VmRSS:");
  if (at == std::string::npos) return -1;
  return std::stol(status->substr(at + 6)) >> 10;
}

// Waits until the receiver holds `mib` MiB (mid-stream), at most 30 s.
bool wait_for_rss(pid_t pid, long mib) {
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (rss_mib(pid) >= mib) return true;
    std::this_thread::sleep_for(200us);
  }
  return false;
}

TEST(Migration, ACountingGuestGoesOnFromTheExactCountInTheOtherProcess) {
  TempDir dir;
  std::string a = dir.file("a.sock"), in = dir.file("in.sock");
  VmmProcess sender({"--api-sock", a, "--kernel", guest("snapshot_counter.elf"), "--cmdline", "ticks=60 fill",
                     "--vcpus", "2", "--mem-mib", "128"});
  VmmProcess receiver({"--migrate-from", "unix:" + in});
  ASSERT_TRUE(sender.wait_for_file(a)) << sender.errors();
  ASSERT_TRUE(receiver.wait_for_file(in)) << receiver.errors();
  ASSERT_TRUE(sender.wait_for_console("tick 3\r\n", 60s)) << sender.console();
  auto sent = call(a, "PUT", "/migration/send", send_body("unix:" + in));
  ASSERT_EQ(sent.status, 200) << sent.body;
  auto report = json::parse(sent.body);
  ASSERT_TRUE(report);
  EXPECT_GT((*report)["downtime_ms"].get<double>(), 0);
  EXPECT_GE((*report)["total_ms"].get<double>(), (*report)["downtime_ms"].get<double>());
  EXPECT_GE((*report)["rounds"].get<int>(), 2);
  EXPECT_GT((*report)["data_pages"].get<int>(), 20000);  // the filled 96 MiB
  auto s = sender.finish(30s);
  EXPECT_EQ(s.status.code, 0) << s.errors;
  EXPECT_EQ(s.metrics["exit"]["kind"], "migrated") << s.metrics.dump();
  EXPECT_EQ(s.metrics["migration"]["destination_url"], "unix:" + in);
  auto r = receiver.finish(120s);
  EXPECT_EQ(r.status.code, 0) << r.console << r.errors;
  EXPECT_TRUE(counts_on(s.console, r.console, "tick", 60));
  EXPECT_EQ(r.console.find("bad"), std::string::npos) << r.console;
  EXPECT_NE(r.console.find("memory ok"), std::string::npos) << r.console;
  EXPECT_NE(r.console.find("done 60"), std::string::npos) << r.console;
  EXPECT_GE(r.metrics["migration"]["rounds"].get<int>(), 2) << r.metrics.dump();
  EXPECT_EQ(::access(in.c_str(), F_OK), -1) << "the receiver left its socket behind";
}

// The receiver through the API (PUT /migration/receive), a guest that rewrites all of its RAM
// pass after pass: every page must hold the last pass's value in the receiver.
TEST(Migration, AGuestRewritingAllItsRamArrivesWithEveryPageRight) {
  TempDir dir;
  std::string a = dir.file("a.sock"), b = dir.file("b.sock"), in = dir.file("in.sock");
  VmmProcess sender({"--api-sock", a, "--kernel", guest("migrate_dirtier.elf"), "--cmdline", "passes=400",
                     "--mem-mib", "128"});
  VmmProcess receiver({"--api-sock", b});
  ASSERT_TRUE(sender.wait_for_file(a)) << sender.errors();
  ASSERT_TRUE(receiver.wait_for_file(b)) << receiver.errors();
  auto received = std::async(std::launch::async, [&] {
    return call(b, "PUT", "/migration/receive", json::Json{{"receiver_url", "unix:" + in}}.dump());
  });
  ASSERT_TRUE(receiver.wait_for_file(in)) << receiver.errors();
  ASSERT_TRUE(sender.wait_for_console("pass 5\r\n", 60s)) << sender.console();
  auto sent = call(a, "PUT", "/migration/send", send_body("unix:" + in));
  ASSERT_EQ(sent.status, 200) << sent.body;
  auto got = received.get();
  ASSERT_EQ(got.status, 200) << got.body;
  auto report = json::parse(got.body);
  ASSERT_TRUE(report);
  EXPECT_TRUE((*report)["resumed"].get<bool>());
  auto metrics = json::parse(call(b, "GET", "/metrics").body);
  ASSERT_TRUE(metrics);
  EXPECT_EQ((*metrics)["migration"]["receiver_url"], "unix:" + in);
  auto s = sender.finish(30s);
  EXPECT_EQ(s.status.code, 0) << s.errors;
  auto r = receiver.finish(120s);
  EXPECT_EQ(r.status.code, 0) << r.console << r.errors;
  EXPECT_TRUE(counts_on(s.console, r.console, "pass", 400));
  EXPECT_EQ(r.console.find("bad"), std::string::npos) << r.console;
  EXPECT_NE(r.console.find("done 400"), std::string::npos) << r.console;
}

// The receiver dies with SIGKILL while RAM streams in: the sender answers the error, its VM goes
// on counting, and a second migration (to a new receiver) then succeeds from where it was.
TEST(Migration, TheReceiverKilledMidStreamLeavesTheSenderRunning) {
  TempDir dir;
  std::string a = dir.file("a.sock"), in1 = dir.file("in1.sock"), in2 = dir.file("in2.sock");
  VmmProcess sender({"--api-sock", a, "--kernel", guest("snapshot_counter.elf"), "--cmdline", "ticks=80 fill",
                     "--mem-mib", "256"});
  VmmProcess doomed({"--migrate-from", "unix:" + in1});
  ASSERT_TRUE(sender.wait_for_file(a)) << sender.errors();
  ASSERT_TRUE(doomed.wait_for_file(in1)) << doomed.errors();
  ASSERT_TRUE(sender.wait_for_console("tick 2\r\n", 60s)) << sender.console();
  auto sent = std::async(std::launch::async, [&] { return call(a, "PUT", "/migration/send", send_body("unix:" + in1)); });
  ASSERT_TRUE(wait_for_rss(doomed.process().pid(), 64)) << doomed.errors();
  ASSERT_TRUE(doomed.process().signal(SIGKILL));
  auto answer = sent.get();
  EXPECT_EQ(answer.status, 400) << answer.body;
  EXPECT_NE(answer.body.find("the VM goes on here"), std::string::npos) << answer.body;
  auto d = doomed.finish(10s);
  EXPECT_EQ(d.status.signal, SIGKILL);
  // Still counting here.
  long at = numbers(sender.console(), "tick").back();
  ASSERT_TRUE(sender.wait_for_console(fmt::format("tick {}\r\n", at + 2), 60s)) << sender.console();
  auto info = json::parse(call(a, "GET", "/").body);
  ASSERT_TRUE(info);
  EXPECT_EQ((*info)["state"], "Running");
  // And it can still be migrated.
  VmmProcess receiver({"--migrate-from", "unix:" + in2});
  ASSERT_TRUE(receiver.wait_for_file(in2)) << receiver.errors();
  auto again = call(a, "PUT", "/migration/send", send_body("unix:" + in2));
  ASSERT_EQ(again.status, 200) << again.body;
  auto s = sender.finish(30s);
  EXPECT_EQ(s.status.code, 0) << s.errors;
  auto r = receiver.finish(120s);
  EXPECT_EQ(r.status.code, 0) << r.console << r.errors;
  EXPECT_TRUE(counts_on(s.console, r.console, "tick", 80));
  EXPECT_NE(r.console.find("memory ok"), std::string::npos) << r.console;
}

// The sender dies with SIGKILL mid-stream: the receiver reports it and exits 1, cleanly.
TEST(Migration, TheSenderKilledMidStreamMakesTheReceiverExitWithTheError) {
  TempDir dir;
  std::string a = dir.file("a.sock"), in = dir.file("in.sock");
  VmmProcess sender({"--api-sock", a, "--kernel", guest("snapshot_counter.elf"), "--cmdline", "ticks=100000 fill",
                     "--mem-mib", "256"});
  VmmProcess receiver({"--migrate-from", "unix:" + in});
  ASSERT_TRUE(sender.wait_for_file(a)) << sender.errors();
  ASSERT_TRUE(receiver.wait_for_file(in)) << receiver.errors();
  ASSERT_TRUE(sender.wait_for_console("tick 2\r\n", 60s)) << sender.console();
  auto sent = std::async(std::launch::async, [&] {
    http::ClientOptions o;
    o.unix_socket = a;
    o.timeout = 60s;
    return http::request(o, "PUT", "http://localhost/migration/send", send_body("unix:" + in));
  });
  ASSERT_TRUE(wait_for_rss(receiver.process().pid(), 64)) << receiver.errors();
  ASSERT_TRUE(sender.process().signal(SIGKILL));
  EXPECT_FALSE(sent.get());  // the API connection died with the sender
  auto r = receiver.finish(30s);
  EXPECT_EQ(r.status.code, 1) << r.errors;
  EXPECT_NE(r.errors.find("the peer closed the migration stream"), std::string::npos) << r.errors;
  EXPECT_EQ(r.errors.find("terminate called"), std::string::npos) << r.errors;
  EXPECT_EQ(r.console, "");  // no guest ran
  (void)sender.finish(10s);
}

// Anything that is not a migration stream is refused with its reason, sent back to the peer.
TEST(Migration, AGarbageStreamIsRefused) {
  TempDir dir;
  std::string in = dir.file("in.sock");
  VmmProcess receiver({"--migrate-from", "unix:" + in});
  ASSERT_TRUE(receiver.wait_for_file(in)) << receiver.errors();
  auto fd = unix_socket::connect(in);
  ASSERT_TRUE(fd) << fd.error().to_string();
  ASSERT_TRUE(unix_socket::send_all(fd->get(), "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  std::string answer(4096, '\0');
  size_t got = 0;
  for (ssize_t n; (n = ::read(fd->get(), answer.data() + got, answer.size() - got)) > 0;) got += static_cast<size_t>(n);
  answer.resize(got);
  ASSERT_GE(answer.size(), 16u);
  uint32_t type = 0;
  std::memcpy(&type, answer.data(), 4);
  EXPECT_EQ(type, 6u);  // an Error message
  EXPECT_NE(answer.find("bad magic"), std::string::npos) << answer;
  auto r = receiver.finish(10s);
  EXPECT_EQ(r.status.code, 1) << r.errors;
  EXPECT_NE(r.errors.find("not a vessel migration stream (bad magic)"), std::string::npos) << r.errors;
}

// A paused VM arrives paused (over TCP this time) and goes on once resumed.
TEST(Migration, APausedVmArrivesPausedOverTcp) {
  TempDir dir;
  std::string a = dir.file("a.sock"), b = dir.file("b.sock");
  int port = free_tcp_port();
  ASSERT_GT(port, 0);
  std::string url = fmt::format("tcp:127.0.0.1:{}", port);
  VmmProcess sender({"--api-sock", a, "--kernel", guest("snapshot_counter.elf"), "--cmdline", "ticks=30",
                     "--mem-mib", "64"});
  VmmProcess receiver({"--api-sock", b, "--migrate-from", url});
  ASSERT_TRUE(sender.wait_for_file(a)) << sender.errors();
  ASSERT_TRUE(sender.wait_for_console("tick 2\r\n", 60s)) << sender.console();
  ASSERT_EQ(call(a, "PATCH", "/vm", R"({"state": "Paused"})").status, 204);
  std::this_thread::sleep_for(200ms);  // the console's last bytes
  // A TCP listener has no file to wait for: retry while the connection is refused.
  http::ClientResponse sent;
  for (int i = 0; i < 100; ++i) {
    sent = call(a, "PUT", "/migration/send", send_body(url));
    if (sent.status == 200 || sent.body.find("Connection refused") == std::string::npos) break;
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_EQ(sent.status, 200) << sent.body;
  auto s = sender.finish(30s);
  EXPECT_EQ(s.status.code, 0) << s.errors;
  ASSERT_TRUE(receiver.wait_for_file(b)) << receiver.errors();
  std::this_thread::sleep_for(300ms);
  auto info = json::parse(call(b, "GET", "/").body);
  ASSERT_TRUE(info);
  EXPECT_EQ((*info)["state"], "Paused");
  EXPECT_TRUE(numbers(receiver.console(), "tick").empty()) << "a paused VM ran: " << receiver.console();
  ASSERT_EQ(call(b, "PATCH", "/vm", R"({"state": "Resumed"})").status, 204);
  auto r = receiver.finish(120s);
  EXPECT_EQ(r.status.code, 0) << r.console << r.errors;
  EXPECT_TRUE(counts_on(s.console, r.console, "tick", 30));
}

// A connection to 127.0.0.1:`port` that has written `bytes` (retried while nothing listens yet).
Fd intrude(int port, const std::string& bytes) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  for (int i = 0; i < 200; ++i) {
    Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0)
      return write_all(fd.get(), bytes) ? std::move(fd) : Fd();
    std::this_thread::sleep_for(50ms);
  }
  return Fd();
}

// From another host anyone may reach the receiver's port first. Given a token, the receiver
// closes every connection that does not open with it (garbage, a wrong token, a sender without
// one, whose VM goes on) and takes the sender that sends it.
TEST(Migration, OverTcpOnlyTheSenderWithTheTokenIsTaken) {
  TempDir dir;
  std::string a = dir.file("a.sock");
  int port = free_tcp_port();
  ASSERT_GT(port, 0);
  std::string url = fmt::format("tcp:127.0.0.1:{}", port);
  const std::string token(64, 'c');
  ASSERT_TRUE(write_file(dir.file("token"), token + "\n"));
  VmmProcess sender({"--api-sock", a, "--kernel", guest("snapshot_counter.elf"), "--cmdline", "ticks=40",
                     "--mem-mib", "64"});
  VmmProcess receiver({"--migrate-from", url, "--migrate-token-file", dir.file("token")});
  ASSERT_TRUE(sender.wait_for_file(a)) << sender.errors();
  ASSERT_TRUE(sender.wait_for_console("tick 2\r\n", 60s)) << sender.console();
  Fd garbage = intrude(port, std::string(64, 'x'));
  ASSERT_TRUE(garbage) << "nothing listens on " << url << ": " << receiver.errors();
  // The right preamble, then a Token message (type 8, 32 bytes) with the wrong bytes.
  std::string wrong("VSLMIGR1\x01\0\0\0\0\0\0\0\x08\0\0\0\0\0\0\0\x20\0\0\0\0\0\0\0", 32);
  wrong += std::string(32, '\xdd');
  Fd guess = intrude(port, wrong);
  ASSERT_TRUE(guess);
  auto without = call(a, "PUT", "/migration/send", send_body(url));
  EXPECT_EQ(without.status, 400) << without.body;
  EXPECT_NE(without.body.find("the VM goes on here"), std::string::npos) << without.body;
  json::Json body = {{"destination_url", url}, {"token", token}};
  auto sent = call(a, "PUT", "/migration/send", body.dump());
  ASSERT_EQ(sent.status, 200) << sent.body;
  auto s = sender.finish(30s);
  EXPECT_EQ(s.status.code, 0) << s.errors;
  auto r = receiver.finish(120s);
  EXPECT_EQ(r.status.code, 0) << r.console << r.errors;
  EXPECT_TRUE(counts_on(s.console, r.console, "tick", 40));
  EXPECT_EQ(r.metrics["migration"]["refused_connections"], 3) << r.metrics.dump();
  EXPECT_NE(r.errors.find("did not open with this receiver's token"), std::string::npos) << r.errors;
  // The wrong guess was answered why (an Error message), then closed.
  std::string answer;
  char buf[512];
  for (ssize_t n; (n = ::recv(guess.get(), buf, sizeof buf, 0)) > 0;) answer.append(buf, static_cast<size_t>(n));
  EXPECT_NE(answer.find("not this receiver's"), std::string::npos) << answer;
}

// A VM whose devices a snapshot cannot hold yet is refused before anything is sent, and runs on.
// A vsock device migrates (vesseld's receiver has its own jail, so its own socket path), but on
// one host without jails the socket path is the sender's: the receiver refuses the VM before any
// page is sent, and the sender runs on.
TEST(Migration, AVsockSocketPathStillHeldIsRefusedByTheReceiverAndTheVmRunsOn) {
  TempDir dir;
  std::string a = dir.file("a.sock");
  std::string in = dir.file("in.sock");
  json::Json cfg = {{"boot-source", {{"kernel_image_path", guest("snapshot_counter.elf")}, {"boot_args", "ticks=100000"}}},
                    {"vsock", {{"guest_cid", 3}, {"uds_path", dir.file("v.sock")}}}};
  ASSERT_TRUE(write_file(dir.file("vm.json"), cfg.dump()));
  VmmProcess sender({"--api-sock", a, "--config-file", dir.file("vm.json")});
  VmmProcess receiver({"--migrate-from", "unix:" + in});
  ASSERT_TRUE(sender.wait_for_file(a)) << sender.errors();
  ASSERT_TRUE(receiver.wait_for_file(in)) << receiver.errors();
  auto r = call(a, "PUT", "/migration/send", send_body("unix:" + in));
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("is in use"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("the VM goes on here"), std::string::npos) << r.body;
  auto info = json::parse(call(a, "GET", "/").body);
  ASSERT_TRUE(info);
  EXPECT_EQ((*info)["state"], "Running");
  auto ended = receiver.process().wait_for(std::chrono::seconds(10));
  ASSERT_TRUE(ended && *ended) << "the receiver exits after refusing";
  EXPECT_EQ((*ended)->code, 1) << receiver.errors();
  (void)sender.process().signal(SIGKILL);
}

// Someone holds the write permission's lock byte (block/image_lock.h: 100 + 1) of `path`.
bool write_locked(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = 101;
  fl.l_len = 1;
  return fd && ::fcntl(fd.get(), F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
}

// Writable drives (raw and qcow2) on storage both processes see: the receiver opens them
// without their locks when it builds the VM, the sender drops its locks at the pause, and the
// receiver opens the images again, locked, when the state arrives; after the hand-over only the
// receiver holds them, and nobody once it ended.
TEST(Migration, WritableDrivesAreHandedOverWithTheirLocks) {
  TempDir dir;
  std::string a = dir.file("a.sock"), in = dir.file("in.sock");
  std::string raw = dir.file("d.raw"), q = dir.file("d.qcow2");
  ASSERT_TRUE(write_file(raw, std::string(1 << 20, 'x')));
  ASSERT_EQ(std::system(("qemu-img create -q -f qcow2 " + q + " 1M").c_str()), 0);
  json::Json cfg = {{"boot-source", {{"kernel_image_path", guest("snapshot_counter.elf")}, {"boot_args", "ticks=100000"}}},
                    {"drives",
                     {{{"drive_id", "d0"}, {"path_on_host", raw}, {"is_root_device", false}, {"is_read_only", false}},
                      {{"drive_id", "d1"}, {"path_on_host", q}, {"is_root_device", false}, {"is_read_only", false},
                       {"format", "qcow2"}}}}};
  ASSERT_TRUE(write_file(dir.file("vm.json"), cfg.dump()));
  VmmProcess sender({"--api-sock", a, "--config-file", dir.file("vm.json")});
  VmmProcess receiver({"--migrate-from", "unix:" + in});
  ASSERT_TRUE(sender.wait_for_file(a)) << sender.errors();
  ASSERT_TRUE(receiver.wait_for_file(in)) << receiver.errors();
  ASSERT_TRUE(sender.wait_for_console("tick 2\r\n", 60s)) << sender.console();
  EXPECT_TRUE(write_locked(raw) && write_locked(q));
  auto sent = call(a, "PUT", "/migration/send", send_body("unix:" + in));
  ASSERT_EQ(sent.status, 200) << sent.body << receiver.errors();
  auto s = sender.finish(30s);
  EXPECT_EQ(s.status.code, 0) << s.errors;
  ASSERT_TRUE(receiver.wait_for_console("tick", 30s));
  EXPECT_TRUE(write_locked(raw)) << "the receiver holds the raw image";
  EXPECT_TRUE(write_locked(q)) << "the receiver holds the qcow2 image";
  (void)receiver.process().signal(SIGKILL);
  (void)receiver.process().wait();
  EXPECT_FALSE(write_locked(raw) || write_locked(q));
  EXPECT_EQ(std::system(("qemu-img check -q " + q).c_str()), 0);
}


// The receiver refuses the VM after the sender's pause (the writable image changed size while
// RAM streamed in): the sender takes its image's locks back and its VM goes on counting.
TEST(Migration, ARefusalAfterThePauseGivesTheSenderItsImageLocksBack) {
  TempDir dir;
  std::string a = dir.file("a.sock"), in = dir.file("in.sock"), raw = dir.file("d.raw");
  ASSERT_TRUE(write_file(raw, std::string(1 << 20, 'x')));
  json::Json cfg = {{"boot-source", {{"kernel_image_path", guest("snapshot_counter.elf")}, {"boot_args", "ticks=100000 fill"}}},
                    {"machine-config", {{"vcpu_count", 1}, {"mem_size_mib", 256}}},
                    {"drives", {{{"drive_id", "d0"}, {"path_on_host", raw}, {"is_root_device", false}, {"is_read_only", false}}}}};
  ASSERT_TRUE(write_file(dir.file("vm.json"), cfg.dump()));
  VmmProcess sender({"--api-sock", a, "--config-file", dir.file("vm.json")});
  VmmProcess receiver({"--migrate-from", "unix:" + in});
  ASSERT_TRUE(sender.wait_for_file(a)) << sender.errors();
  ASSERT_TRUE(receiver.wait_for_file(in)) << receiver.errors();
  ASSERT_TRUE(sender.wait_for_console("tick 2\r\n", 60s)) << sender.console();
  auto sent = std::async(std::launch::async, [&] { return call(a, "PUT", "/migration/send", send_body("unix:" + in)); });
  ASSERT_TRUE(wait_for_rss(receiver.process().pid(), 64)) << receiver.errors();  // it built the VM: pages arrive
  ASSERT_EQ(::truncate(raw.c_str(), 2 << 20), 0);
  auto answer = sent.get();
  EXPECT_EQ(answer.status, 400) << answer.body;
  EXPECT_NE(answer.body.find("the image is 2097152 bytes now"), std::string::npos) << answer.body;
  EXPECT_NE(answer.body.find("the VM goes on here"), std::string::npos) << answer.body;
  auto r = receiver.finish(10s);
  EXPECT_EQ(r.status.code, 1) << r.errors;
  EXPECT_TRUE(write_locked(raw)) << "the sender took its lock back";
  long at = numbers(sender.console(), "tick").back();
  ASSERT_TRUE(sender.wait_for_console(fmt::format("tick {}\r\n", at + 2), 60s)) << sender.console();
  auto info = json::parse(call(a, "GET", "/").body);
  ASSERT_TRUE(info);
  EXPECT_EQ((*info)["state"], "Running");
  (void)sender.process().signal(SIGKILL);
  (void)sender.process().wait();
  EXPECT_FALSE(write_locked(raw));
}


}  // namespace
}  // namespace vessel::vmm::test
