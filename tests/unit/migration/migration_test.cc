// Live migration without a VM (src/vmm/migration/, docs/vmm/migration.md): the wire format's
// parsers, and the sender and the receiver talking over a socketpair with a fake VM whose "guest"
// writes pages between rounds: RAM arrives whole, a vanished or refusing peer is an error on the
// other side, and a sender that fails always leaves its VM running.
#include <arpa/inet.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <thread>

#include "free_tcp_port.h"
#include "vmm/migration/accept.h"
#include "vmm/migration/receiver.h"
#include "vmm/migration/sender.h"
#include "vmm/migration/url.h"

namespace vessel::vmm::migration {
namespace {

using namespace std::chrono_literals;

// Page-aligned zeroed memory (the sender reads pages as 64-bit words).
struct Pages {
  explicit Pages(uint64_t count) : size(count * kPageSize) {
    data = static_cast<uint8_t*>(std::aligned_alloc(kPageSize, size));
    std::memset(data, 0, size);
  }
  ~Pages() { std::free(data); }
  Pages(const Pages&) = delete;
  std::span<uint8_t> span() const { return {data, size}; }
  uint8_t* data;
  uint64_t size;
};

// A VM for the sender: RAM, a dirty log, and a "guest" that writes `writes_per_round[0]` pages
// once the log is on (during round 0) and `writes_per_round[i + 1]` after the i-th take of the
// log (during the next round), while it is not paused.
class FakeVm : public VmSource {
 public:
  explicit FakeVm(uint64_t pages, bool running = true) : ram_(pages), dirty_((pages + 63) / 64), running_(running) {
    for (uint64_t p = 0; p < pages; p += 3) std::memset(ram_.data + p * kPageSize, static_cast<int>(p & 0xff) | 1, 100);
  }

  std::span<const uint8_t> ram() const override { return ram_.span(); }
  uint32_t vcpu_count() const override { return 2; }
  bool running() const override { return running_; }
  Result<void> start_dirty_log() override {
    logging_ = true;
    guest_step();
    return {};
  }
  Result<std::vector<uint64_t>> take_dirty_pages() override {
    auto out = dirty_;
    std::fill(dirty_.begin(), dirty_.end(), 0);
    guest_step();
    return out;
  }
  void guest_step() {
    if (running_ && steps_ < writes_per_round.size()) guest_writes(writes_per_round[steps_]);
    ++steps_;
  }
  Result<void> pause() override {
    ++pauses;
    running_ = false;
    return {};
  }
  Result<std::vector<uint8_t>> save_state() override {
    if (running_) return fail(EINVAL, "not paused");
    return state;
  }
  Result<void> resume() override {
    ++resumes;
    running_ = true;
    return {};
  }
  void put_back_dirty_pages(const std::vector<uint64_t>& pages) override { put_back = pages; }
  std::vector<uint64_t> untouched_pages() override { return untouched; }
  std::string config() const override { return R"({"machine-config": {"vcpu_count": 2}})"; }

  // `count` pages written, spread over RAM, each with a new byte.
  void guest_writes(uint64_t count) {
    uint64_t pages = ram_.size / kPageSize;
    for (uint64_t i = 0; i < count; ++i) {
      uint64_t p = (next_ * 7919) % pages;
      ++next_;
      std::memset(ram_.data + p * kPageSize + (next_ % 64) * 64, static_cast<int>(next_ & 0xff) | 0x80, 64);
      if (logging_) dirty_[p / 64] |= 1ull << (p % 64);
    }
  }

  std::vector<uint64_t> writes_per_round;
  std::vector<uint8_t> state = std::vector<uint8_t>(3000, 0x5c);
  std::vector<uint64_t> put_back;
  std::vector<uint64_t> untouched;
  int pauses = 0, resumes = 0;
  Pages ram_;

 private:
  std::vector<uint64_t> dirty_;
  bool running_;
  bool logging_ = false;
  size_t steps_ = 0;
  uint64_t next_ = 1;
};

struct SocketPair {
  SocketPair() {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    a = Fd(fds[0]);
    b = Fd(fds[1]);
  }
  Fd a, b;
};

// The receiver's RAM, handed out for the Hello.
struct ReceiverRam {
  std::unique_ptr<Pages> pages;
  AllocateRam allocate() {
    return [this](const Hello& h) -> Result<RamTarget> {
      pages = std::make_unique<Pages>(h.mem_size / kPageSize);
      uint8_t* base = pages->data;
      return RamTarget{pages->span(), [base](uint64_t off, uint64_t len) { std::memset(base + off, 0, len); }};
    };
  }
};

// Runs send() on a thread against `vm`, receive() here; returns both outcomes.
struct Migration {
  Result<SendReport> sent = fail(EINVAL, "not run");
  Result<Received> received = fail(EINVAL, "not run");
  ReceiverRam ram;
};

Migration migrate(FakeVm& vm, SendOptions options = {}) {
  Migration m;
  SocketPair s;
  std::thread sender([&] {
    FdChannel ch(std::move(s.a), 5s);
    m.sent = send(ch, vm, options);
  });
  FdChannel ch(std::move(s.b), 5s);
  m.received = receive(ch, m.ram.allocate());
  if (m.received) {
    EXPECT_TRUE(answer_done(ch));
  }
  sender.join();
  return m;
}

// --- wire format ---------------------------------------------------------------------------

TEST(MigrationProtocol, MessagesParseBack) {
  auto pre = encode_preamble();
  EXPECT_TRUE(parse_preamble(pre));
  auto hello = encode_hello({256ull << 20, 4});
  auto h = parse_header(std::span(hello).first(kHeaderBytes));
  ASSERT_TRUE(h);
  EXPECT_EQ(h->type, MessageType::Hello);
  auto parsed = parse_hello(std::span(hello).subspan(kHeaderBytes));
  ASSERT_TRUE(parsed) << parsed.error().to_string();
  EXPECT_EQ(parsed->mem_size, 256ull << 20);
  EXPECT_EQ(parsed->vcpu_count, 4u);
  auto round = encode_round({7, 1234});
  auto r = parse_round(std::span(round).subspan(kHeaderBytes));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->round, 7u);
  EXPECT_EQ(r->pages, 1234u);
  PageRange ranges[] = {{0, 3}, {10, 1}};
  auto pages = encode_ranges(MessageType::Pages, ranges, true);
  auto ph = parse_header(std::span(pages).first(kHeaderBytes));
  ASSERT_TRUE(ph);
  EXPECT_EQ(ph->length, table_bytes(2) + 4 * kPageSize);
  auto table = parse_ranges(std::span(pages).subspan(kHeaderBytes), MessageType::Pages, ph->length, 16);
  ASSERT_TRUE(table) << table.error().to_string();
  EXPECT_EQ(table->pages, 4u);
  ASSERT_EQ(table->ranges.size(), 2u);
  EXPECT_EQ(table->ranges[1].first, 10u);
  auto err = encode_error("no\nroom\x7f");
  EXPECT_EQ(parse_error_text(std::span(err).subspan(kHeaderBytes)), "no room ");
}

TEST(MigrationProtocol, HeadersOutsideTheirBoundsAreRefused) {
  auto bad = [](uint32_t type, uint32_t flags, uint64_t length) {
    std::vector<uint8_t> b(kHeaderBytes);
    std::memcpy(b.data(), &type, 4);
    std::memcpy(b.data() + 4, &flags, 4);
    std::memcpy(b.data() + 8, &length, 8);
    return parse_header(b);
  };
  EXPECT_FALSE(bad(99, 0, 0));
  EXPECT_FALSE(bad(0, 0, 0));
  EXPECT_FALSE(bad(1, 1, 16));                                       // flags
  EXPECT_FALSE(bad(1, 0, 17));                                       // Hello is 16 bytes
  EXPECT_FALSE(bad(16, 0, 1));                                       // Ready is empty
  EXPECT_FALSE(bad(2, 0, table_bytes(513) + 1024 * kPageSize));      // more than a Pages message holds
  EXPECT_FALSE(bad(5, 0, 8 + kMaxStateBytes + 1));
  EXPECT_FALSE(bad(6, 0, kMaxErrorBytes + 1));
  EXPECT_TRUE(bad(5, 0, 8 + kMaxStateBytes));
  auto pre = encode_preamble();
  pre[0] = 'X';
  EXPECT_NE(parse_preamble(pre).error().message().find("bad magic"), std::string::npos);
  pre = encode_preamble();
  pre[8] = 2;
  EXPECT_NE(parse_preamble(pre).error().message().find("version 2"), std::string::npos);
}

TEST(MigrationProtocol, HelloIsChecked) {
  auto payload = [](uint64_t mem, uint32_t vcpus, uint32_t page) {
    std::vector<uint8_t> b(16);
    std::memcpy(b.data(), &mem, 8);
    std::memcpy(b.data() + 8, &vcpus, 4);
    std::memcpy(b.data() + 12, &page, 4);
    return parse_hello(b);
  };
  EXPECT_TRUE(payload(128 << 20, 1, 4096));
  EXPECT_FALSE(payload(0, 1, 4096));
  EXPECT_FALSE(payload(4097, 1, 4096));
  EXPECT_FALSE(payload(kMaxRamBytes + 4096, 1, 4096));
  EXPECT_FALSE(payload(128 << 20, 0, 4096));
  EXPECT_FALSE(payload(128 << 20, 33, 4096));
  EXPECT_FALSE(payload(128 << 20, 1, 65536));
}

TEST(MigrationProtocol, PageRangesAreCheckedAgainstRam) {
  auto table = [](std::vector<PageRange> rs) {
    std::vector<uint8_t> t(8 + 16 * rs.size());
    uint32_t n = static_cast<uint32_t>(rs.size());
    std::memcpy(t.data(), &n, 4);
    for (size_t i = 0; i < rs.size(); ++i) {
      std::memcpy(t.data() + 8 + 16 * i, &rs[i].first, 8);
      std::memcpy(t.data() + 16 + 16 * i, &rs[i].count, 8);
    }
    return t;
  };
  auto zero = [&](std::vector<PageRange> rs) {
    auto t = table(rs);
    return parse_ranges(t, MessageType::Zero, t.size(), 16);
  };
  EXPECT_TRUE(zero({{0, 16}}));
  EXPECT_FALSE(zero({{0, 17}}));
  EXPECT_FALSE(zero({{16, 1}}));
  EXPECT_FALSE(zero({{~0ull, 2}}));          // first + count wraps
  EXPECT_FALSE(zero({{1, ~0ull}}));
  EXPECT_FALSE(zero({{3, 0}}));
  EXPECT_FALSE(zero({}));
  auto t = table({{0, 2}});
  EXPECT_FALSE(parse_ranges(t, MessageType::Zero, t.size() + kPageSize, 16));   // a Zero message with data
  EXPECT_FALSE(parse_ranges(t, MessageType::Pages, t.size() + kPageSize, 16));  // 2 pages, 1 page of data
  EXPECT_TRUE(parse_ranges(t, MessageType::Pages, t.size() + 2 * kPageSize, 16));
  auto big = table({{0, 1025}});
  EXPECT_FALSE(parse_ranges(big, MessageType::Pages, big.size() + 1025 * kPageSize, 4096));
  std::vector<uint8_t> many(8);
  uint32_t n = kMaxRangesPerMessage + 1;
  std::memcpy(many.data(), &n, 4);
  EXPECT_FALSE(parse_range_count(many));
}

TEST(MigrationUrl, UnixAndNumericTcpAddresses) {
  auto u = parse_url("unix:/run/in.sock");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->kind, Url::Kind::Unix);
  EXPECT_EQ(u->path, "/run/in.sock");
  auto v4 = parse_url("tcp:127.0.0.1:4444");
  ASSERT_TRUE(v4) << v4.error().to_string();
  EXPECT_EQ(v4->addr.ss_family, AF_INET);
  auto v6 = parse_url("tcp:[::1]:4444");
  ASSERT_TRUE(v6) << v6.error().to_string();
  EXPECT_EQ(v6->addr.ss_family, AF_INET6);
  for (const char* bad : {"unix:", "tcp:localhost:4444", "tcp:127.0.0.1", "tcp:127.0.0.1:0", "tcp:127.0.0.1:70000",
                          "tcp:127.0.0.1:44x", "file:/x", "/run/in.sock"})
    EXPECT_FALSE(parse_url(bad)) << bad;
}

// A TCP listener on a loopback port the kernel picked, and its URL.
struct TcpListener {
  TcpListener() {
    url = *parse_url(fmt::format("tcp:127.0.0.1:{}", vessel::test::free_tcp_port()));
    fd = std::move(*listen(url));
  }
  Url url;
  Fd fd;
};

TEST(MigrationUrl, TcpConnectsToItsListener) {
  ASSERT_FALSE(parse_url("tcp:127.0.0.1:0"));  // port 0 is refused; pick a port the kernel hands out instead
  TcpListener listener;
  ASSERT_TRUE(listener.fd);
  auto c = connect(listener.url);
  ASSERT_TRUE(c) << c.error().to_string();
  auto accepted = accept_one(listener.fd.get(), -1);
  ASSERT_TRUE(accepted) << accepted.error().to_string();
}

// --- sender and receiver ----------------------------------------------------------------------

void expect_same_ram(const FakeVm& vm, const Migration& m) {
  ASSERT_TRUE(m.ram.pages);
  ASSERT_EQ(m.ram.pages->size, vm.ram_.size);
  for (uint64_t p = 0; p < vm.ram_.size / kPageSize; ++p)
    ASSERT_EQ(std::memcmp(vm.ram_.data + p * kPageSize, m.ram.pages->data + p * kPageSize, kPageSize), 0) << "page " << p;
}

TEST(Migration, RamArrivesWholeAcrossDirtyRounds) {
  FakeVm vm(8192);  // 32 MiB
  // Three rounds over the budget (6000 pages for 0.5 ms: it would take 48 GB/s), then few enough.
  vm.writes_per_round = {6000, 6000, 6000, 5};
  SendOptions o;
  o.downtime_limit = 1ms;
  auto m = migrate(vm, o);
  ASSERT_TRUE(m.sent) << m.sent.error().to_string();
  ASSERT_TRUE(m.received) << m.received.error().to_string();
  expect_same_ram(vm, m);
  EXPECT_EQ(m.received->state, vm.state);
  EXPECT_TRUE(m.received->resume);
  EXPECT_EQ(m.received->hello.vcpu_count, 2u);
  EXPECT_EQ(m.sent->rounds, 5u);  // round 0, three dirty rounds, the final one
  EXPECT_EQ(m.received->stats.rounds, 5u);
  EXPECT_GT(m.sent->zero_pages, 0u);
  EXPECT_EQ(m.sent->data_pages, m.received->stats.data_pages);
  EXPECT_EQ(m.sent->bytes, m.received->stats.bytes);
  EXPECT_EQ(m.sent->final_pages, 5u);
  EXPECT_EQ(vm.pauses, 1);
  EXPECT_EQ(vm.resumes, 0);  // the receiver runs it now
  EXPECT_GE(m.sent->total_ms, m.sent->downtime_ms);
}

TEST(Migration, ARoundLimitEndsTheIteration) {
  FakeVm vm(8192);
  vm.writes_per_round = std::vector<uint64_t>(100, 6000);  // never converges
  SendOptions o;
  o.downtime_limit = 1ms;
  o.max_rounds = 2;
  auto m = migrate(vm, o);
  ASSERT_TRUE(m.sent) << m.sent.error().to_string();
  ASSERT_TRUE(m.received) << m.received.error().to_string();
  expect_same_ram(vm, m);
  EXPECT_EQ(m.sent->rounds, 4u);  // round 0, rounds 1 and 2, the final one
  EXPECT_GE(m.sent->final_pages, 6000u);  // the last round's pages and those written since
}

TEST(Migration, APausedVmIsSentInOneRoundAndStaysPaused) {
  FakeVm vm(256, false);
  auto m = migrate(vm);
  ASSERT_TRUE(m.sent) << m.sent.error().to_string();
  ASSERT_TRUE(m.received) << m.received.error().to_string();
  expect_same_ram(vm, m);
  EXPECT_FALSE(m.received->resume);
  EXPECT_EQ(m.sent->rounds, 2u);  // round 0 and an empty final round
  EXPECT_EQ(m.sent->final_pages, 0u);
  EXPECT_EQ(vm.pauses, 0);
  EXPECT_EQ(vm.resumes, 0);
}

// Round 0 trusts the VM about pages it never touched: they go as zeros without being read (here
// page 0, which holds data, to show it); a page written after round 0 is still sent.
TEST(Migration, UntouchedPagesGoAsZerosUnread) {
  FakeVm vm(256, false);
  vm.untouched = std::vector<uint64_t>(4, 0);
  vm.untouched[0] = 0b11;  // pages 0 (data) and 1 (zeros)
  auto m = migrate(vm);
  ASSERT_TRUE(m.sent) << m.sent.error().to_string();
  ASSERT_TRUE(m.received) << m.received.error().to_string();
  EXPECT_EQ(m.ram.pages->data[0], 0);  // not read: the VM said so
  EXPECT_NE(vm.ram_.data[0], 0);
  EXPECT_EQ(std::memcmp(vm.ram_.data + 3 * kPageSize, m.ram.pages->data + 3 * kPageSize, kPageSize), 0);
}

// A receiver that reads `bytes` of the stream (after answering Ready) and then closes.
void vanishing_receiver(Fd fd, uint64_t bytes) {
  FdChannel ch(std::move(fd), 5s);
  std::vector<uint8_t> head(kPreambleBytes + kHeaderBytes + 16 + encode_config(R"({"machine-config": {"vcpu_count": 2}})").size());
  ASSERT_TRUE(ch.read(head));
  ASSERT_TRUE(ch.write(std::span<const uint8_t>(encode_empty(MessageType::Ready))));
  std::vector<uint8_t> sink(4096);
  for (uint64_t done = 0; done < bytes;) {
    uint64_t n = std::min<uint64_t>(sink.size(), bytes - done);
    if (!ch.read(std::span(sink).first(n))) return;
    done += n;
  }
}

TEST(Migration, TheReceiverVanishingMidStreamLeavesTheVmRunning) {
  FakeVm vm(4096);
  vm.writes_per_round = {100, 100};
  SocketPair s;
  std::thread receiver([fd = std::move(s.b)]() mutable { vanishing_receiver(std::move(fd), 1 << 20); });
  FdChannel ch(std::move(s.a), 5s);
  auto sent = send(ch, vm, {});
  receiver.join();
  ASSERT_FALSE(sent);
  EXPECT_TRUE(vm.running());
  EXPECT_EQ(vm.pauses, vm.resumes);
}

TEST(Migration, TheReceiverVanishingBeforeDoneResumesThePausedVm) {
  FakeVm vm(64);
  // Everything but Done: the stream of a 64-page VM is well under 1 MiB; the receiver reads it all.
  SocketPair s;
  std::thread receiver([fd = std::move(s.b)]() mutable {
    FdChannel ch(std::move(fd), 5s);
    ReceiverRam ram;
    EXPECT_TRUE(receive(ch, ram.allocate()));
  });  // closes without answering Done
  FdChannel ch(std::move(s.a), 5s);
  auto sent = send(ch, vm, {});
  receiver.join();
  ASSERT_FALSE(sent);
  EXPECT_NE(sent.error().to_string().find("closed"), std::string::npos) << sent.error().to_string();
  EXPECT_EQ(vm.pauses, 1);
  EXPECT_EQ(vm.resumes, 1);
  EXPECT_TRUE(vm.running());
  EXPECT_FALSE(vm.put_back.empty());  // the pages taken from the log count as dirty again
}

TEST(Migration, TheReceiversRefusalIsTheSendersError) {
  FakeVm vm(64);
  SocketPair s;
  std::thread receiver([fd = std::move(s.b)]() mutable {
    FdChannel ch(std::move(fd), 5s);
    auto r = receive(ch, [](const Hello&) -> Result<RamTarget> { return fail(ENOMEM, "no room for the guest"); });
    ASSERT_FALSE(r);
    answer_error(ch, r.error());
  });
  FdChannel ch(std::move(s.a), 5s);
  auto sent = send(ch, vm, {});
  receiver.join();
  ASSERT_FALSE(sent);
  EXPECT_NE(sent.error().to_string().find("no room for the guest"), std::string::npos) << sent.error().to_string();
  EXPECT_EQ(vm.pauses, 0);
  EXPECT_TRUE(vm.running());
}

TEST(Migration, ASilentReceiverTimesOutAndTheVmGoesOn) {
  FakeVm vm(64);
  SocketPair s;  // nobody answers Ready
  FdChannel ch(std::move(s.a), 200ms);
  auto sent = send(ch, vm, {});
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().errnum(), ETIMEDOUT) << sent.error().to_string();
  EXPECT_TRUE(vm.running());
}

constexpr const char* kConfig = R"({"machine-config": {"vcpu_count": 1}})";
// Its length: the good stream's head is the preamble, the Hello and this Config.
size_t head_bytes() { return kPreambleBytes + kHeaderBytes + 16 + encode_config(kConfig).size(); }

// A good stream, written with the encoders: 16 pages, two rounds, a state.
std::vector<uint8_t> good_stream() {
  std::vector<uint8_t> s = encode_preamble();
  auto add = [&](const std::vector<uint8_t>& b) { s.insert(s.end(), b.begin(), b.end()); };
  add(encode_hello({16 * kPageSize, 1}));
  add(encode_config(kConfig));
  add(encode_round({0, 16}));
  PageRange data[] = {{0, 2}, {5, 1}};
  add(encode_ranges(MessageType::Pages, data, true));
  s.insert(s.end(), 3 * kPageSize, 0x42);
  PageRange zeros[] = {{2, 3}, {6, 10}};
  add(encode_ranges(MessageType::Zero, zeros, false));
  add(encode_round({1, 1}));
  PageRange again[] = {{15, 1}};
  add(encode_ranges(MessageType::Pages, again, true));
  s.insert(s.end(), kPageSize, 0x43);
  std::vector<uint8_t> state(100, 7);
  add(encode_state_head(kStateResume, state.size()));
  add(state);
  return s;
}

TEST(MigrationReceiver, AGoodStreamIsReceived) {
  auto stream = good_stream();
  BufferChannel ch(stream);
  ReceiverRam ram;
  auto r = receive(ch, ram.allocate());
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->stats.rounds, 2u);
  EXPECT_EQ(r->stats.data_pages, 4u);
  EXPECT_EQ(r->stats.zero_pages, 13u);
  EXPECT_EQ(r->stats.bytes, stream.size());
  EXPECT_EQ(r->state, std::vector<uint8_t>(100, 7));
  EXPECT_EQ(ram.pages->data[0], 0x42);
  EXPECT_EQ(ram.pages->data[5 * kPageSize + 4095], 0x42);
  EXPECT_EQ(ram.pages->data[15 * kPageSize], 0x43);
  EXPECT_EQ(ch.written(), encode_empty(MessageType::Ready));  // its only answer so far
}

TEST(MigrationReceiver, TheConfigReachesItsCallbackBeforeReady) {
  auto stream = good_stream();
  BufferChannel ch(stream);
  ReceiverRam ram;
  std::string seen;
  auto r = receive(ch, ram.allocate(), [&](const std::string& text) -> Result<void> {
    seen = text;
    EXPECT_TRUE(ch.written().empty()) << "Ready before the VM was built";
    return {};
  });
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(seen, kConfig);
  EXPECT_EQ(r->config, seen);
  // The callback's error ends the migration, and no Ready is answered.
  BufferChannel again(stream);
  auto refused = receive(again, ram.allocate(), [](const std::string&) -> Result<void> { return fail(EBUSY, "drive locked"); });
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().to_string().find("drive locked"), std::string::npos);
  EXPECT_TRUE(again.written().empty());
}

TEST(MigrationReceiver, EveryTruncationIsRefused) {
  auto stream = good_stream();
  for (size_t n = 0; n < stream.size(); n += (n < 400 ? 1 : 997)) {
    BufferChannel ch(std::span<const uint8_t>(stream).first(n));
    ReceiverRam ram;
    EXPECT_FALSE(receive(ch, ram.allocate())) << n << " of " << stream.size() << " bytes";
  }
}

TEST(MigrationReceiver, StreamsOutOfOrderAreRefused) {
  auto stream_of = [](std::initializer_list<std::vector<uint8_t>> parts) {
    std::vector<uint8_t> s = encode_preamble();
    for (const auto& p : parts) s.insert(s.end(), p.begin(), p.end());
    return s;
  };
  PageRange one[] = {{0, 1}};
  std::vector<uint8_t> page(kPageSize, 1);
  auto hello = encode_hello({16 * kPageSize, 1});
  auto config = encode_config(kConfig);
  hello.insert(hello.end(), config.begin(), config.end());  // every stream below has its Config
  auto bare_hello = encode_hello({16 * kPageSize, 1});
  struct Case {
    const char* name;
    std::vector<uint8_t> stream;
    const char* message;
  } cases[] = {
      {"garbage", std::vector<uint8_t>(64, 0x33), "bad magic"},
      {"no hello", stream_of({encode_round({0, 1})}), "not Hello"},
      {"pages before round 0", stream_of({hello, encode_ranges(MessageType::Pages, one, true), page}), "before round 0"},
      {"round 1 first", stream_of({hello, encode_round({1, 1})}), "round 1 where round 0 belongs"},
      {"second hello", stream_of({hello, encode_round({0, 1}), bare_hello}), "unexpected Hello"},
      {"no config", stream_of({bare_hello, encode_round({0, 1})}), "where the Config belongs"},
      {"state before round 0", stream_of({hello, encode_state_head(0, 0)}), "before round 0"},
      {"sender error", stream_of({hello, encode_round({0, 1}), encode_error("disk gone")}), "the sender gave up: disk gone"},
      {"unknown state flags", stream_of({hello, encode_round({0, 1}), encode_state_head(6, 0)}), "unknown flags"},
      {"config after round 0", stream_of({hello, encode_round({0, 1}), encode_config("{}")}), "unexpected Config"},
      {"two configs", stream_of({hello, encode_config("{}")}), "unexpected Config"},
      {"empty config", stream_of({bare_hello, encode_config("")}), "empty Config"},
  };
  for (const auto& c : cases) {
    BufferChannel ch(c.stream);
    ReceiverRam ram;
    auto r = receive(ch, ram.allocate());
    ASSERT_FALSE(r) << c.name;
    EXPECT_NE(r.error().to_string().find(c.message), std::string::npos) << c.name << ": " << r.error().to_string();
  }
}

TEST(MigrationReceiver, TheSenderVanishingIsAnError) {
  SocketPair s;
  std::thread sender([fd = std::move(s.a)]() mutable {
    FdChannel ch(std::move(fd), 5s);
    auto stream = good_stream();
    size_t hello = head_bytes();
    ASSERT_TRUE(ch.write(std::span<const uint8_t>(stream).first(hello)));
    std::vector<uint8_t> ready(kHeaderBytes);
    ASSERT_TRUE(ch.read(ready));
    ASSERT_TRUE(ch.write(std::span<const uint8_t>(stream).subspan(hello, 100)));
  });  // and closes, mid-message
  FdChannel ch(std::move(s.b), 5s);
  ReceiverRam ram;
  auto r = receive(ch, ram.allocate());
  sender.join();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().to_string().find("closed"), std::string::npos) << r.error().to_string();
}

// --- the token a receiver from another host expects ------------------------------------------

Token token_of(uint8_t fill) {
  Token t;
  t.bytes.fill(fill);
  return t;
}

TEST(MigrationToken, HexParsesAndComparesByValue) {
  auto t = parse_token_hex("00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF");
  ASSERT_TRUE(t) << t.error().to_string();
  EXPECT_EQ(t->bytes[0], 0x00);
  EXPECT_EQ(t->bytes[10], 0xaa);
  EXPECT_EQ(t->bytes[31], 0xff);
  EXPECT_TRUE(same_token(*t, *t));
  Token other = *t;
  other.bytes[31] ^= 1;
  EXPECT_FALSE(same_token(*t, other));
  for (std::string bad : {std::string(), std::string(63, 'a'), std::string(65, 'a'), std::string(63, 'a') + "g",
                          std::string(62, 'a') + "\n\n"})
    EXPECT_FALSE(parse_token_hex(bad)) << bad;
}

// A stream that begins with `token`'s Token message (or none), then a good stream's messages.
std::vector<uint8_t> stream_with_token(const std::optional<Token>& token) {
  auto good = good_stream();
  std::vector<uint8_t> s(good.begin(), good.begin() + kPreambleBytes);
  if (token) {
    auto message = encode_token(*token);
    s.insert(s.end(), message.begin(), message.end());
  }
  s.insert(s.end(), good.begin() + kPreambleBytes, good.end());
  return s;
}

TEST(MigrationReceiver, ATokenMustOpenTheStream) {
  Token expected = token_of(0x5a);
  {
    auto stream = stream_with_token(expected);
    BufferChannel ch(stream);
    auto opened = open_stream(ch, &expected);
    ASSERT_TRUE(opened) << opened.error().to_string();
    EXPECT_EQ(*opened, kPreambleBytes + kHeaderBytes + kTokenBytes);
    ReceiverRam ram;
    auto r = receive_opened(ch, ram.allocate());
    ASSERT_TRUE(r) << r.error().to_string();
    EXPECT_EQ(r->stats.rounds, 2u);
  }
  struct Case {
    const char* name;
    std::optional<Token> sent;
  } cases[] = {{"a wrong token", token_of(0x5b)}, {"no token", std::nullopt}};
  for (const auto& c : cases) {
    auto stream = stream_with_token(c.sent);
    BufferChannel ch(stream);
    auto opened = open_stream(ch, &expected);
    ASSERT_FALSE(opened) << c.name;
    EXPECT_EQ(opened.error().errnum(), EACCES) << c.name << ": " << opened.error().to_string();
  }
  // A receiver that expects none refuses a stream that brings one (it is not the Hello).
  auto stream = stream_with_token(expected);
  BufferChannel ch(stream);
  ReceiverRam ram;
  auto r = receive(ch, ram.allocate());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().to_string().find("starts with a Token message"), std::string::npos) << r.error().to_string();
}

// What a peer sent until it closed the connection.
std::string read_until_closed(int fd) {
  std::string got;
  char buf[4096];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) got.append(buf, static_cast<size_t>(n));
  return got;
}

TEST(MigrationAccept, ConnectionsWithoutTheTokenAreClosedAndTheWaitGoesOn) {
  TcpListener listener;
  Token token = token_of(0x77);
  // Before the sender: one connection that says nothing, one with the wrong token, one with
  // garbage. Each is closed; the sender that comes next is taken.
  auto silent = connect(listener.url);
  ASSERT_TRUE(silent);
  auto wrong = connect(listener.url);
  ASSERT_TRUE(wrong);
  auto wrong_stream = stream_with_token(token_of(0x78));
  ASSERT_TRUE(write_all(wrong->get(), wrong_stream.data(), kPreambleBytes + kHeaderBytes + kTokenBytes));
  auto garbage = connect(listener.url);
  ASSERT_TRUE(garbage);
  ASSERT_TRUE(write_all(garbage->get(), std::string(64, 'x')));
  FakeVm vm(64);
  Result<SendReport> sent = fail(EINVAL, "not run");
  std::thread sender([&] {
    auto fd = connect(listener.url);
    ASSERT_TRUE(fd) << fd.error().to_string();
    FdChannel ch(std::move(*fd), 15s);
    SendOptions options;
    options.token = token;
    sent = send(ch, vm, options);
  });
  AcceptOptions options;
  options.token = &token;
  options.token_timeout = 300ms;
  options.peer_timeout = 5s;
  auto accepted = accept_stream(listener.fd.get(), options);
  ASSERT_TRUE(accepted) << accepted.error().to_string();
  EXPECT_EQ(accepted->refused, 3);
  ReceiverRam ram;
  auto received = receive_opened(accepted->channel, ram.allocate());
  ASSERT_TRUE(received) << received.error().to_string();
  EXPECT_TRUE(answer_done(accepted->channel));
  sender.join();
  ASSERT_TRUE(sent) << sent.error().to_string();
  EXPECT_EQ(std::memcmp(vm.ram_.data, ram.pages->data, vm.ram_.size), 0);
  // The wrong guess was answered why, and closed.
  EXPECT_NE(read_until_closed(wrong->get()).find("the sender's token is not this receiver's"), std::string::npos);
}

TEST(MigrationAccept, TooManyConnectionsWithoutTheTokenEndTheWait) {
  TcpListener listener;
  Token token = token_of(0x11);
  std::vector<Fd> attempts;
  for (int i = 0; i < 3; ++i) {
    auto c = connect(listener.url);
    ASSERT_TRUE(c);
    ASSERT_TRUE(write_all(c->get(), std::string(80, 'y')));
    attempts.push_back(std::move(*c));
  }
  AcceptOptions options;
  options.token = &token;
  options.max_refused = 3;
  auto accepted = accept_stream(listener.fd.get(), options);
  ASSERT_FALSE(accepted);
  EXPECT_EQ(accepted.error().errnum(), EACCES);
  EXPECT_NE(accepted.error().to_string().find("3 connections came without"), std::string::npos)
      << accepted.error().to_string();
}

TEST(MigrationAccept, WithoutATokenTheFirstConnectionIsTheStream) {
  TcpListener listener;
  auto garbage = connect(listener.url);
  ASSERT_TRUE(garbage);
  ASSERT_TRUE(write_all(garbage->get(), std::string(64, 'x')));
  auto accepted = accept_stream(listener.fd.get(), AcceptOptions{});
  ASSERT_FALSE(accepted);
  EXPECT_NE(accepted.error().to_string().find("bad magic"), std::string::npos) << accepted.error().to_string();
}

}  // namespace
}  // namespace vessel::vmm::migration
