// virtio-vsock end to end through its registers: a fake guest driver on real GuestMemory and
// real Unix sockets on the host side (Firecracker's CONNECT protocol and "<uds>_<port>").
#include <gtest/gtest.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "base/unix_socket.h"
#include "vmm/devices/virtio/vsock/vsock_muxer.h"
#include "vsock_driver.h"

namespace vessel::vmm::virtio {
namespace {

using namespace testing;
using vsock::Header;
using vsock::Op;

constexpr uint64_t kCid = 42;

// Reads exactly n bytes (or what arrives before EOF/timeout).
std::string read_n(int fd, size_t n, int timeout_ms = 3000) {
  std::string out;
  while (out.size() < n) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) break;
    char buf[65536];
    ssize_t r = ::read(fd, buf, std::min(sizeof buf, n - out.size()));
    if (r <= 0) break;
    out.append(buf, size_t(r));
  }
  return out;
}
std::string read_line(int fd) {
  std::string out;
  while (out.empty() || out.back() != '\n') {
    std::string c = read_n(fd, 1);
    if (c.empty()) break;
    out += c;
  }
  return out;
}
// True when the peer closed the stream (read returns 0 or an error) within the timeout.
bool sees_eof(int fd, int timeout_ms = 3000) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) <= 0) return false;
  char c;
  return ::read(fd, &c, 1) <= 0;
}
std::string pattern(size_t n, int seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = char((i * 131 + seed * 7 + (i >> 9)) & 0xff);
  return s;
}

class VsockDeviceTest : public ::testing::Test {
 protected:
  GuestMemory mem = make_memory();
  std::shared_ptr<CountingIrq> irq = std::make_shared<CountingIrq>();
  VsockDriver drv{mem};
  std::string dir, uds;

  void SetUp() override {
    char tmpl[] = "/tmp/vsock-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir = tmpl;
    uds = dir + "/v.sock";
    auto dev = create_vsock({kCid, uds}, DeviceContext{&mem, irq, kMmioBase, {}});
    ASSERT_TRUE(dev) << dev.error().to_string();
    drv.attach(*dev);
    ASSERT_TRUE(drv.init() & status::kDriverOk);
  }
  void TearDown() override {
    drv.attach(nullptr);
    std::filesystem::remove_all(dir);
  }

  json::Json metrics() { return drv.dev().metrics(); }
  uint64_t packet_errors(const char* kind) { return metrics()["packet_errors"][kind].get<uint64_t>(); }

  Header guest(Op op, uint32_t src_port, uint32_t dst_port, uint32_t buf_alloc = 1 << 20, uint32_t fwd_cnt = 0) {
    Header h;
    h.src_cid = kCid;
    h.dst_cid = vsock::kHostCid;
    h.src_port = src_port;
    h.dst_port = dst_port;
    h.op = uint16_t(op);
    h.buf_alloc = buf_alloc;
    h.fwd_cnt = fwd_cnt;
    return h;
  }

  // Host CONNECT <port>, guest accepts: the host stream and the guest's view of the stream.
  struct Stream {
    Fd host;
    uint32_t host_port = 0, guest_port = 0;
  };
  Stream host_connect(uint32_t port, uint32_t guest_buf_alloc = 1 << 20) {
    Stream s;
    auto fd = unix_socket::connect(uds);
    EXPECT_TRUE(fd) << fd.error().to_string();
    s.host = std::move(*fd);
    std::string line = fmt::format("CONNECT {}\n", port);
    EXPECT_EQ(::write(s.host.get(), line.data(), line.size()), ssize_t(line.size()));
    auto req = drv.recv();
    EXPECT_TRUE(req);
    if (!req) return s;
    EXPECT_EQ(req->header.op, uint16_t(Op::Request));
    EXPECT_EQ(req->header.src_cid, vsock::kHostCid);
    EXPECT_EQ(req->header.dst_cid, kCid);
    EXPECT_EQ(req->header.dst_port, port);
    s.host_port = req->header.src_port;
    s.guest_port = port;
    drv.send(guest(Op::Response, port, s.host_port, guest_buf_alloc));
    EXPECT_EQ(read_line(s.host.get()), fmt::format("OK {}\n", s.host_port));
    return s;
  }
};

TEST_F(VsockDeviceTest, ConfigSpaceHoldsTheGuestCid) {
  EXPECT_EQ(drv.r32(reg::kDeviceId), 19u);
  EXPECT_EQ(drv.r32(reg::kConfig), uint32_t(kCid));
  EXPECT_EQ(drv.r32(reg::kConfig + 4), 0u);
}

TEST_F(VsockDeviceTest, HostConnectGuestAcceptsAndBytesFlowBothWaysExactly) {
  drv.post_rx(32);
  Stream s = host_connect(1024);
  ASSERT_GE(s.host_port, vsock::kFirstLocalPort);

  // host -> guest, 200 KiB: several RW packets, byte-exact, in order.
  std::string down = pattern(200 * 1024, 1);
  std::thread writer([&] { (void)unix_socket::send_all(s.host.get(), down); });
  std::string got;
  while (got.size() < down.size()) {
    auto p = drv.recv_skipping_credit();
    ASSERT_TRUE(p) << "after " << got.size() << " bytes";
    ASSERT_EQ(p->header.op, uint16_t(Op::Rw));
    EXPECT_EQ(p->header.src_port, s.host_port);
    EXPECT_EQ(p->header.dst_port, s.guest_port);
    got += p->payload;
  }
  writer.join();
  EXPECT_EQ(got, down);

  // guest -> host, 150 KiB in packets of up to 60 KiB, header split from the payload in half.
  std::string up = pattern(150 * 1024, 2);
  std::string received;
  std::thread reader([&] { received = read_n(s.host.get(), up.size()); });
  for (size_t off = 0, i = 0; off < up.size(); off += 60 * 1024, ++i)
    drv.send(guest(Op::Rw, s.guest_port, s.host_port), up.substr(off, 60 * 1024), i % 2 == 0);
  reader.join();
  EXPECT_EQ(received, up);
  auto m = metrics();
  EXPECT_EQ(m["bytes"]["to_guest"].get<uint64_t>(), down.size());
  EXPECT_EQ(m["bytes"]["from_guest"].get<uint64_t>(), up.size());
  EXPECT_EQ(m["host_connects"].get<uint64_t>(), 1u);
  EXPECT_EQ(m["connections"].get<uint64_t>(), 1u);
}

TEST_F(VsockDeviceTest, HostToGuestStopsAtTheGuestsCreditAndResumesOnCreditUpdate) {
  drv.post_rx(32);
  Stream s = host_connect(1024, /*guest_buf_alloc=*/8192);
  std::string down = pattern(32 * 1024, 3);
  ASSERT_TRUE(unix_socket::send_all(s.host.get(), down));
  std::string got;
  uint32_t fwd = 0;
  for (int round = 0; round < 4; ++round) {
    // Exactly one window arrives; then the device asks for credit and sends nothing more.
    size_t window_end = got.size() + 8192;
    bool asked = false;
    while (got.size() < window_end) {
      auto p = drv.recv();
      ASSERT_TRUE(p);
      if (p->header.op == uint16_t(Op::CreditRequest)) {
        asked = true;
        continue;
      }
      ASSERT_EQ(p->header.op, uint16_t(Op::Rw));
      got += p->payload;
    }
    EXPECT_EQ(got.size(), window_end);
    auto extra = drv.recv(300);
    if (extra) {
      EXPECT_EQ(extra->header.op, uint16_t(Op::CreditRequest)) << "data beyond the guest's credit";
      asked = true;
    }
    EXPECT_TRUE(asked);
    fwd += 8192;
    drv.send(guest(Op::CreditUpdate, s.guest_port, s.host_port, 8192, fwd));
  }
  EXPECT_EQ(got, down);
}

TEST_F(VsockDeviceTest, GuestToHostRespectsTheDevicesCreditAndItIsReturnedAsTheHostReads) {
  drv.post_rx(32);
  Stream s = host_connect(1024);
  // The host does not read: the guest may send buf_alloc bytes past the device's fwd_cnt, and the
  // kernel's socket buffer takes some. A guest that honours credit stops when it runs out.
  std::string sent;
  uint32_t credit_base = 0;  // fwd_cnt seen
  drv.peer_buf_alloc = vsock::kBufAlloc;
  while (true) {
    uint32_t in_flight = uint32_t(sent.size()) - credit_base;
    uint32_t credit = drv.peer_buf_alloc - in_flight;
    if (credit == 0) break;
    std::string chunk = pattern(std::min<uint32_t>(credit, 32 * 1024), int(sent.size()));
    drv.send(guest(Op::Rw, s.guest_port, s.host_port), chunk);
    sent += chunk;
    // Credit updates the device sends meanwhile (it wrote to the socket buffer).
    while (auto p = drv.recv(50)) {
      ASSERT_EQ(p->header.op, uint16_t(Op::CreditUpdate));
      credit_base = p->header.fwd_cnt;
    }
    ASSERT_LT(sent.size(), 64u << 20) << "the device never ran out of room";
  }
  EXPECT_GE(sent.size(), vsock::kBufAlloc);
  // The host reads everything: credit comes back through CREDIT_UPDATEs, the bytes are exact.
  std::string got = read_n(s.host.get(), sent.size());
  EXPECT_EQ(got, sent);
  auto p = drv.recv();
  ASSERT_TRUE(p);
  EXPECT_EQ(p->header.op, uint16_t(Op::CreditUpdate));
  uint32_t last = p->header.fwd_cnt;
  while (auto q = drv.recv(200)) last = q->header.fwd_cnt;
  // Updates go out per quarter of the window: the guest has at least 3/4 of it back.
  EXPECT_LE(uint32_t(sent.size()) - last, vsock::kBufAlloc / 4);
  EXPECT_EQ(packet_errors("credit_violation"), 0u);
}

TEST_F(VsockDeviceTest, GuestIgnoringCreditIsResetAndCounted) {
  drv.post_rx(32);
  Stream s = host_connect(1024);
  std::string chunk = pattern(64 * 1024, 9);
  bool reset = false;
  for (int i = 0; i < 64 && !reset; ++i) {
    drv.send(guest(Op::Rw, s.guest_port, s.host_port), chunk);
    while (auto p = drv.recv(20)) reset |= p->header.op == uint16_t(Op::Rst);
  }
  EXPECT_TRUE(reset);
  EXPECT_EQ(packet_errors("credit_violation"), 1u);
  EXPECT_EQ(metrics()["connections"].get<uint64_t>(), 0u);
}

TEST_F(VsockDeviceTest, GuestConnectsToUdsPathUnderscorePortAndClosesCleanly) {
  drv.post_rx(16);
  auto listener = unix_socket::listen(uds + "_5000");
  ASSERT_TRUE(listener);
  drv.send(guest(Op::Request, 3333, 5000, 65536));
  auto resp = drv.recv();
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->header.op, uint16_t(Op::Response));
  EXPECT_EQ(resp->header.src_port, 5000u);
  EXPECT_EQ(resp->header.dst_port, 3333u);
  EXPECT_EQ(resp->header.buf_alloc, vsock::kBufAlloc);
  Fd host(::accept4(listener->get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(host);

  drv.send(guest(Op::Rw, 3333, 5000, 65536), "ping from guest");
  EXPECT_EQ(read_n(host.get(), 15), "ping from guest");
  ASSERT_TRUE(unix_socket::send_all(host.get(), "pong from host"));
  auto p = drv.recv_skipping_credit();
  ASSERT_TRUE(p);
  EXPECT_EQ(p->header.op, uint16_t(Op::Rw));
  EXPECT_EQ(p->payload, "pong from host");

  // close() in the guest: SHUTDOWN both ways; the host sees EOF, the guest gets its RST.
  auto h = guest(Op::Shutdown, 3333, 5000, 65536);
  h.flags = vsock::kShutdownRcv | vsock::kShutdownSend;
  drv.send(h);
  EXPECT_TRUE(sees_eof(host.get()));
  auto rst = drv.recv_skipping_credit();
  ASSERT_TRUE(rst);
  EXPECT_EQ(rst->header.op, uint16_t(Op::Rst));
  EXPECT_EQ(metrics()["guest_connects"].get<uint64_t>(), 1u);
  EXPECT_EQ(metrics()["connections"].get<uint64_t>(), 0u);
}

TEST_F(VsockDeviceTest, HostClosingItsStreamGivesTheGuestItsBytesThenShutdown) {
  drv.post_rx(16);
  Stream s = host_connect(77);
  ASSERT_TRUE(unix_socket::send_all(s.host.get(), "last words"));
  s.host.reset();
  std::string got;
  for (;;) {
    auto p = drv.recv_skipping_credit();
    ASSERT_TRUE(p);
    if (p->header.op == uint16_t(Op::Rw)) {
      got += p->payload;
      continue;
    }
    EXPECT_EQ(p->header.op, uint16_t(Op::Shutdown));
    EXPECT_EQ(p->header.flags, vsock::kShutdownRcv | vsock::kShutdownSend);
    break;
  }
  EXPECT_EQ(got, "last words");
  drv.send(guest(Op::Rst, s.guest_port, s.host_port));
  EXPECT_EQ(metrics()["connections"].get<uint64_t>(), 0u);
}

TEST_F(VsockDeviceTest, GuestRefusingAHostConnectClosesTheHostStream) {
  drv.post_rx(8);
  auto fd = unix_socket::connect(uds);
  ASSERT_TRUE(fd);
  ASSERT_TRUE(unix_socket::send_all(fd->get(), "CONNECT 9\n"));
  auto req = drv.recv();
  ASSERT_TRUE(req);
  drv.send(guest(Op::Rst, 9, req->header.src_port));
  EXPECT_TRUE(sees_eof(fd->get()));
  EXPECT_EQ(metrics()["connections"].get<uint64_t>(), 0u);
}

TEST_F(VsockDeviceTest, AHostConnectTheGuestNeverAnswersTimesOut) {
  drv.post_rx(8);
  auto fd = unix_socket::connect(uds);
  ASSERT_TRUE(fd);
  ASSERT_TRUE(unix_socket::send_all(fd->get(), "CONNECT 2222\n"));
  auto req = drv.recv();
  ASSERT_TRUE(req);
  EXPECT_EQ(req->header.op, uint16_t(Op::Request));
  // No answer: after kConnectTimeout the host stream closes and the guest is told.
  EXPECT_TRUE(sees_eof(fd->get(), 9000));
  auto rst = drv.recv();
  ASSERT_TRUE(rst);
  EXPECT_EQ(rst->header.op, uint16_t(Op::Rst));
  EXPECT_EQ(rst->header.src_port, req->header.src_port);
  EXPECT_EQ(metrics()["connect_timeouts"].get<uint64_t>(), 1u);
  EXPECT_EQ(metrics()["connections"].get<uint64_t>(), 0u);
}

TEST_F(VsockDeviceTest, BadConnectLinesCloseTheStream) {
  drv.post_rx(8);
  for (std::string line : std::vector<std::string>{"CONNECT\n", "CONNECT 99999999999\n", "connect 5\n", "CONNECT 5x\n",
                           std::string(40, 'A')}) {
    auto fd = unix_socket::connect(uds);
    ASSERT_TRUE(fd);
    ASSERT_TRUE(unix_socket::send_all(fd->get(), line));
    EXPECT_TRUE(sees_eof(fd->get())) << line;
  }
  EXPECT_EQ(metrics()["bad_connect_lines"].get<uint64_t>(), 5u);
  EXPECT_FALSE(drv.recv(100)) << "the guest heard of none of them";
}

TEST_F(VsockDeviceTest, GuestConnectWithNobodyListeningIsReset) {
  drv.post_rx(8);
  drv.send(guest(Op::Request, 1000, 6000));
  auto p = drv.recv();
  ASSERT_TRUE(p);
  EXPECT_EQ(p->header.op, uint16_t(Op::Rst));
  EXPECT_EQ(p->header.src_port, 6000u);
  EXPECT_EQ(p->header.dst_port, 1000u);
  EXPECT_EQ(metrics()["refused"].get<uint64_t>(), 1u);
}

TEST_F(VsockDeviceTest, PacketsForUnknownStreamsAreResetAndCounted) {
  drv.post_rx(8);
  drv.send(guest(Op::Rw, 1, 2), "data");
  drv.send(guest(Op::CreditRequest, 1, 3));
  drv.send(guest(Op::Rst, 1, 4));  // never answered
  for (uint32_t port : {2u, 3u}) {
    auto p = drv.recv();
    ASSERT_TRUE(p);
    EXPECT_EQ(p->header.op, uint16_t(Op::Rst));
    EXPECT_EQ(p->header.src_port, port);
  }
  EXPECT_FALSE(drv.recv(100));
  EXPECT_EQ(packet_errors("unknown_connection"), 2u);
}

TEST_F(VsockDeviceTest, EveryMalformedPacketIsCountedAndNoneBreaksTheDevice) {
  drv.post_rx(32);
  auto bytes = [](Header h, size_t payload = 0) {
    auto b = vsock::encode(h);
    std::vector<uint8_t> v(b.begin(), b.end());
    v.resize(v.size() + payload, 0x5a);
    return v;
  };
  Header ok = guest(Op::Rw, 10, 20);
  std::vector<uint8_t> short_header(20, 0);
  drv.send_raw(short_header);
  Header h = ok; h.type = 2; drv.send_raw(bytes(h));
  h = ok; h.op = 0; drv.send_raw(bytes(h));
  h = ok; h.op = 8; drv.send_raw(bytes(h));
  h = ok; h.len = vsock::kMaxPayload + 1; drv.send_raw(bytes(h, 100));
  h = ok; h.len = 1000; drv.send_raw(bytes(h, 999));
  h = guest(Op::Request, 10, 20); h.len = 4; drv.send_raw(bytes(h, 4));
  h = ok; h.src_cid = kCid + 1; drv.send_raw(bytes(h));
  h = ok; h.dst_cid = 7; drv.send_raw(bytes(h));
  for (const char* kind : {"short_header", "bad_type", "bad_length", "length_beyond_chain", "payload_on_control",
                           "bad_source_cid", "bad_destination_cid"})
    EXPECT_EQ(packet_errors(kind), 1u) << kind;
  EXPECT_EQ(packet_errors("bad_op"), 2u);
  auto m = metrics();
  EXPECT_EQ(m["guest_errors"]["bad_request"].get<uint64_t>(), 9u);
  // Each one whose header could be read is answered with RST (8 of 9).
  int resets = 0;
  while (auto p = drv.recv(200)) resets += p->header.op == uint16_t(Op::Rst);
  EXPECT_EQ(resets, 8);
  EXPECT_FALSE(drv.r32(reg::kStatus) & status::kNeedsReset);
  // The device still works.
  Stream s = host_connect(5);
  drv.send(guest(Op::Rw, s.guest_port, s.host_port), "still alive");
  EXPECT_EQ(read_n(s.host.get(), 11), "still alive");
}

TEST_F(VsockDeviceTest, WithoutRxBuffersNothingIsLostAndWorkResumesWhenTheyCome) {
  auto fd = unix_socket::connect(uds);
  ASSERT_TRUE(fd);
  ASSERT_TRUE(unix_socket::send_all(fd->get(), "CONNECT 1024\n"));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(drv.recv(50));
  drv.post_rx(4);
  auto req = drv.recv();
  ASSERT_TRUE(req);
  EXPECT_EQ(req->header.op, uint16_t(Op::Request));
  EXPECT_EQ(req->header.dst_port, 1024u);
}

TEST_F(VsockDeviceTest, DriverResetDropsEveryStream) {
  drv.post_rx(8);
  Stream s = host_connect(1024);
  ASSERT_TRUE(drv.init() & status::kDriverOk);
  drv.post_rx(8);  // the new driver's first doorbell: the device thread drops the old streams
  EXPECT_TRUE(sees_eof(s.host.get()));
  EXPECT_EQ(metrics()["connections"].get<uint64_t>(), 0u);
}

// Snapshots: no host connection survives; the restored device (in the new process, listening on
// the same uds_path over the old process's stale socket file) tells the driver of a transport
// reset on the event queue, once, and the host can connect again.
TEST_F(VsockDeviceTest, ARestoredDeviceSendsOneTransportResetAndTakesNewConnections) {
  constexpr GuestAddress kEventBufs = 0x800000;
  drv.post_rx(16);
  Stream s = host_connect(1024);
  ASSERT_TRUE(mem.write_obj<uint32_t>(kEventBufs, 0xffffffff));
  drv.set_desc(2, 0, kEventBufs, 4, kDescFlagWrite);
  drv.submit(2, 0);
  drv.set_desc(2, 1, kEventBufs + 8, 4, kDescFlagWrite);
  drv.submit(2, 1);
  ASSERT_TRUE(drv.dev().pause());
  EXPECT_EQ(drv.used_idx(2), 0) << "no event without a restore";
  auto st = drv.dev().save_state();
  auto extra = drv.dev().save_extra();
  ASSERT_TRUE(st && extra);
  const auto* vs = std::get_if<snapshot::VsockState>(&*extra);
  ASSERT_NE(vs, nullptr);
  EXPECT_EQ(vs->mmio_base, kMmioBase);
  EXPECT_EQ(vs->guest_cid, kCid);
  EXPECT_EQ(vs->uds_path, uds);

  drv.attach(nullptr);  // the old process ends: its streams close, its socket file stays
  EXPECT_TRUE(sees_eof(s.host.get()));
  auto fresh = create_vsock({kCid, uds}, DeviceContext{&mem, irq, kMmioBase, {}});
  ASSERT_TRUE(fresh) << fresh.error().to_string();
  auto wrong = *extra;
  std::get<snapshot::VsockState>(wrong).guest_cid = kCid + 1;
  EXPECT_FALSE((*fresh)->restore_extra(wrong));
  ASSERT_TRUE((*fresh)->restore_extra(*extra));
  ASSERT_TRUE((*fresh)->restore_state(*st));
  drv.attach(*fresh);
  auto ev = drv.next_used(2);
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->first, 0u);
  EXPECT_EQ(ev->second, 4u);
  EXPECT_EQ(*mem.read_obj<uint32_t>(kEventBufs), 0u) << "VIRTIO_VSOCK_EVENT_TRANSPORT_RESET";
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(drv.used_idx(2), 1) << "one reset, not one per batch";
  EXPECT_EQ(metrics()["transport_resets"].get<uint64_t>(), 1u);
  // A host connect waits until the driver has taken the reset (it gives the event buffer back, as
  // Linux does once it has reset its connected sockets): before, it would be reset with them.
  auto early = unix_socket::connect(uds);
  ASSERT_TRUE(early);
  ASSERT_EQ(::write(early->get(), "CONNECT 1024\n", 13), 13);
  EXPECT_FALSE(drv.recv(300)) << "the guest heard of a connect before it took the reset";
  drv.submit(2, 0);
  auto req = drv.recv();
  ASSERT_TRUE(req);
  EXPECT_EQ(req->header.op, uint16_t(Op::Request));
  EXPECT_EQ(req->header.dst_port, 1024u);
}

// A driver that never gives the event buffer back (or has none) does not keep the host out: the
// hold on host connects ends after at most 2 s.
TEST_F(VsockDeviceTest, TheHoldOnHostConnectsAfterALoadEndsWithoutTheDriver) {
  drv.post_rx(16);
  ASSERT_TRUE(drv.dev().pause());
  auto st = drv.dev().save_state();
  auto extra = drv.dev().save_extra();
  ASSERT_TRUE(st && extra);
  drv.attach(nullptr);
  auto fresh = create_vsock({kCid, uds}, DeviceContext{&mem, irq, kMmioBase, {}});
  ASSERT_TRUE(fresh) << fresh.error().to_string();
  ASSERT_TRUE((*fresh)->restore_extra(*extra));
  ASSERT_TRUE((*fresh)->restore_state(*st));  // no event buffer: the reset cannot even be sent
  drv.attach(*fresh);
  auto start = std::chrono::steady_clock::now();
  auto fd = unix_socket::connect(uds);
  ASSERT_TRUE(fd);
  ASSERT_EQ(::write(fd->get(), "CONNECT 1024\n", 13), 13);
  auto req = drv.recv(4000);
  ASSERT_TRUE(req) << "the host connect never reached the guest";
  EXPECT_EQ(req->header.op, uint16_t(Op::Request));
  auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_GE(waited, std::chrono::milliseconds(1500));
  EXPECT_LE(waited, std::chrono::milliseconds(3500));
}

TEST(VsockConfigTest, CidAndPathAreChecked) {
  EXPECT_FALSE(validate_vsock_config({2, "/tmp/x"}));
  EXPECT_FALSE(validate_vsock_config({1ull << 32, "/tmp/x"}));
  EXPECT_FALSE(validate_vsock_config({3, ""}));
  EXPECT_FALSE(validate_vsock_config({3, "/" + std::string(100, 'a')}));
  EXPECT_TRUE(validate_vsock_config({3, "/tmp/x"}));
}

}  // namespace
}  // namespace vessel::vmm::virtio
