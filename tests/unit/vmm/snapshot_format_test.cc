// The snapshot state file (src/vmm/snapshot): CRC64, framing, sections and their versions, and
// the fixture written by the first release, which every later vessel-vmm must keep reading.
#include <gtest/gtest.h>

#include <cstring>

#include "base/fd.h"
#include "vmm/snapshot/crc64.h"
#include "vmm/snapshot/machine_state.h"
#include "vmm/snapshot/state_file.h"

namespace vessel::vmm::snapshot {
namespace {

std::span<const uint8_t> as_bytes(std::string_view s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

TEST(Crc64, MatchesTheXzCheckValue) {
  EXPECT_EQ(crc64(as_bytes("123456789")), 0x995dc9bbdf1939faull);
  EXPECT_EQ(crc64(as_bytes("")), 0u);
  // Incremental use gives the same result as one call.
  EXPECT_EQ(crc64(as_bytes("6789"), crc64(as_bytes("12345"))), 0x995dc9bbdf1939faull);
}

MachineState sample() {
  MachineState s;
  s.vcpu_count = 2;
  s.mem_size = 64 << 20;
  kvm_cpuid_entry2 e{};
  e.function = 1;
  e.eax = 0x806e9;
  s.cpuid.push_back(e);
  s.config = R"({"boot-source":{"kernel_image_path":"/k"}})";
  for (int i = 0; i < 2; ++i) {
    VcpuSnapshot v;
    v.regs.rip = 0x100000 + i;
    v.msrs.push_back({0x10, 0, 12345});
    v.xcrs.nr_xcrs = 1;
    s.vcpus.push_back(v);
  }
  s.vm.pic_master.chip_id = KVM_IRQCHIP_PIC_MASTER;
  s.vm.pic_slave.chip_id = KVM_IRQCHIP_PIC_SLAVE;
  s.vm.ioapic.chip_id = KVM_IRQCHIP_IOAPIC;
  s.serial.rx = "typed";
  s.i8042.out = "\x1d";
  VirtioState d;
  d.device_type = 2;
  d.queues.push_back({256, true, 0x1000, 0x2000, 0x3000, 5, 5, 4});
  s.virtio.push_back(d);
  CmosRtcState rtc;
  rtc.offset = -3600;
  rtc.ram[0x40] = 0xa5;
  s.rtc = rtc;
  return s;
}

TEST(SnapshotFormat, RoundTrips) {
  auto file = encode(sample());
  auto back = decode(file);
  ASSERT_TRUE(back) << back.error().to_string();
  EXPECT_EQ(back->vcpu_count, 2u);
  EXPECT_EQ(back->mem_size, 64u << 20);
  ASSERT_EQ(back->vcpus.size(), 2u);
  EXPECT_EQ(back->vcpus[1].regs.rip, 0x100001u);
  ASSERT_EQ(back->vcpus[0].msrs.size(), 1u);
  EXPECT_EQ(back->vcpus[0].msrs[0].data, 12345u);
  EXPECT_EQ(back->serial.rx, "typed");
  ASSERT_EQ(back->virtio.size(), 1u);
  EXPECT_EQ(back->virtio[0].queues[0].next_avail, 5);
  EXPECT_EQ(back->cpuid[0].eax, 0x806e9u);
  EXPECT_EQ(back->config, sample().config);
  ASSERT_TRUE(back->rtc);
  EXPECT_EQ(back->rtc->offset, -3600);
  EXPECT_EQ(back->rtc->ram[0x40], 0xa5);
}

TEST(SnapshotFormat, EveryTruncationIsRefused) {
  auto file = encode(sample());
  for (size_t n = 0; n < file.size(); ++n) {
    auto r = decode(std::span<const uint8_t>(file.data(), n));
    ASSERT_FALSE(r) << "decoded with " << n << " of " << file.size() << " bytes";
  }
}

TEST(SnapshotFormat, EveryFlippedByteIsRefused) {
  auto file = encode(sample());
  for (size_t i = 0; i < file.size(); i += 7) {
    auto bad = file;
    bad[i] ^= 0x10;
    auto r = decode(bad);
    ASSERT_FALSE(r) << "byte " << i;
  }
  auto bad = file;
  bad[100] ^= 1;
  auto r = decode(bad);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().to_string().find("CRC64"), std::string::npos) << r.error().to_string();
}

// A well-formed file (right checksum) whose sections are wrong.
std::vector<uint8_t> with_sections(std::vector<Section> sections) { return serialize(sections); }

TEST(SnapshotFormat, UnknownAndFutureSectionsAreRefused) {
  auto file = encode(sample());
  auto sections = parse(file);
  ASSERT_TRUE(sections);
  auto unknown = *sections;
  unknown.push_back({42, 1, {}});
  auto r = decode(with_sections(unknown));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().to_string().find("unknown section id 42"), std::string::npos) << r.error().to_string();

  auto future = *sections;
  future[0].version = 2;
  r = decode(with_sections(future));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().to_string().find("machine section version 2 is not supported"), std::string::npos)
      << r.error().to_string();

  auto missing = *sections;
  missing.pop_back();  // the CMOS clock: fine (snapshots from before it existed)
  missing.pop_back();  // the virtio device: fine
  missing.erase(missing.begin() + 3);  // the vm section
  r = decode(with_sections(missing));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().to_string().find("vm section is missing"), std::string::npos) << r.error().to_string();

  auto longer = *sections;
  longer[4].bytes.push_back(0);  // serial section with a stray byte
  r = decode(with_sections(longer));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().to_string().find("unexpected bytes"), std::string::npos) << r.error().to_string();
}

TEST(SnapshotFormat, ImpossibleCountsAreRefusedBeforeAllocating) {
  auto sections = parse(encode(sample()));
  ASSERT_TRUE(sections);
  auto s = *sections;
  uint32_t huge = 0x7fffffff;
  std::memcpy(s[0].bytes.data() + 12, &huge, 4);  // the CPUID entry count
  auto r = decode(with_sections(s));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().to_string().find("CPUID entries"), std::string::npos) << r.error().to_string();
}

// tests/unit/vmm/data/snapshot-v1.state: a snapshot of the test-kit guest snapshot_counter.elf
// (2 vCPUs, 128 MiB) written by the first vessel-vmm with snapshots. Later versions must read it.
TEST(SnapshotFormat, TheFirstReleasesFixtureStillDecodes) {
  auto text = read_file(VESSEL_SNAPSHOT_FIXTURE);
  ASSERT_TRUE(text) << text.error().to_string();
  auto s = decode(as_bytes(*text));
  ASSERT_TRUE(s) << s.error().to_string();
  EXPECT_EQ(s->vcpu_count, 2u);
  EXPECT_EQ(s->mem_size, 128u << 20);
  EXPECT_EQ(s->vcpus.size(), 2u);
  EXPECT_NE(s->config.find("snapshot_counter.elf"), std::string::npos) << s->config;
  EXPECT_GT(s->vcpus[0].msrs.size(), 5u);
  EXPECT_NE(s->vcpus[0].regs.rip, 0u);
  // Written before the CMOS clock existed: its section is absent, and that is fine.
  EXPECT_FALSE(s->rtc);
  // Likewise the net and vsock sections (such VMs were refused then).
  EXPECT_TRUE(s->net.empty());
  EXPECT_FALSE(s->vsock);
}

// A VM with a network interface and a vsock device: their sections name their virtio devices.
MachineState sample_with_net_and_vsock() {
  MachineState s = sample();
  VirtioState net, vsock;
  net.device_type = 1;
  net.mmio_base = 0xd0001000;
  net.queues.resize(2);
  vsock.device_type = 19;
  vsock.mmio_base = 0xd0002000;
  vsock.queues.resize(3);
  s.virtio.push_back(net);
  s.virtio.push_back(vsock);
  NetState n;
  n.mmio_base = 0xd0001000;
  n.iface_id = "eth0";
  n.host_dev_name = "vtap0";
  n.mac = {0x06, 0xaa, 0xbb, 0xcc, 0xdd, 0xee};
  n.rx_frame = std::string(60, 'f');
  n.rx_paid = true;
  n.tx_bandwidth = {true, 12345, 67};
  s.net.push_back(n);
  s.vsock = VsockState{0xd0002000, 42, "/run/vm/v.sock"};
  return s;
}

TEST(SnapshotFormat, NetAndVsockSectionsRoundTrip) {
  auto back = decode(encode(sample_with_net_and_vsock()));
  ASSERT_TRUE(back) << back.error().to_string();
  ASSERT_EQ(back->net.size(), 1u);
  EXPECT_EQ(back->net[0].mmio_base, 0xd0001000u);
  EXPECT_EQ(back->net[0].iface_id, "eth0");
  EXPECT_EQ(back->net[0].host_dev_name, "vtap0");
  EXPECT_EQ(back->net[0].mac[5], 0xee);
  EXPECT_EQ(back->net[0].rx_frame, std::string(60, 'f'));
  EXPECT_TRUE(back->net[0].rx_paid);
  EXPECT_TRUE(back->net[0].tx_bandwidth.present);
  EXPECT_EQ(back->net[0].tx_bandwidth.budget, 12345u);
  EXPECT_EQ(back->net[0].tx_bandwidth.burst, 67u);
  EXPECT_FALSE(back->net[0].rx_ops.present);
  ASSERT_TRUE(back->vsock);
  EXPECT_EQ(back->vsock->guest_cid, 42u);
  EXPECT_EQ(back->vsock->uds_path, "/run/vm/v.sock");
}

TEST(SnapshotFormat, HostileNetAndVsockSectionsAreRefused) {
  auto refused = [](MachineState s, std::string_view why) {
    auto r = decode(encode(s));
    if (r) return ::testing::AssertionFailure() << "decoded: " << why;
    if (r.error().to_string().find(why) == std::string::npos)
      return ::testing::AssertionFailure() << r.error().to_string() << " (expected: " << why << ")";
    return ::testing::AssertionSuccess();
  };
  auto s = sample_with_net_and_vsock();
  s.net[0].mmio_base = 0xd0002000;  // the vsock device's window
  EXPECT_TRUE(refused(s, "names no virtio-net device"));
  s = sample_with_net_and_vsock();
  s.net.push_back(s.net[0]);
  EXPECT_TRUE(refused(s, "two net sections"));
  s = sample_with_net_and_vsock();
  s.net[0].mac[0] = 0x01;
  EXPECT_TRUE(refused(s, "multicast"));
  s = sample_with_net_and_vsock();
  s.net[0].rx_frame = "short";
  EXPECT_TRUE(refused(s, "pending frame of 5 bytes"));
  s = sample_with_net_and_vsock();
  s.net[0].rx_frame = std::string(kMaxNetFrame + 1, 'x');
  EXPECT_TRUE(refused(s, "at most 65562"));
  s = sample_with_net_and_vsock();
  s.net[0].rx_frame.clear();
  EXPECT_TRUE(refused(s, "rx_paid without a pending frame"));
  s = sample_with_net_and_vsock();
  s.net[0].vhost = true;
  EXPECT_TRUE(refused(s, "pending frame on a vhost-net device"));
  s = sample_with_net_and_vsock();
  s.net[0].iface_id.clear();
  EXPECT_TRUE(refused(s, "empty iface_id"));
  s = sample_with_net_and_vsock();
  s.net[0].host_dev_name = std::string(65, 't');
  EXPECT_TRUE(refused(s, "at most 64"));
  s = sample_with_net_and_vsock();
  s.net[0].rx_ops = {false, 5, 0};
  EXPECT_TRUE(refused(s, "a level for an absent rate limiter bucket"));
  s = sample_with_net_and_vsock();
  s.vsock->guest_cid = 2;
  EXPECT_TRUE(refused(s, "guest_cid 2"));
  s = sample_with_net_and_vsock();
  s.vsock->mmio_base = 0xd0001000;
  EXPECT_TRUE(refused(s, "names no virtio-vsock device"));
  s = sample_with_net_and_vsock();
  s.vsock->uds_path.clear();
  EXPECT_TRUE(refused(s, "empty uds_path"));

  // A flag byte other than 0 or 1, two vsock sections, a stray byte.
  auto sections = parse(encode(sample_with_net_and_vsock()));
  ASSERT_TRUE(sections);
  auto bad = *sections;
  auto& net_bytes = bad[bad.size() - 2].bytes;
  net_bytes[net_bytes.size() - 4 * 17 - 1] = 2;  // rx_paid, before the four bucket levels
  EXPECT_FALSE(decode(with_sections(bad)));
  bad = *sections;
  bad.push_back(bad.back());
  auto r = decode(with_sections(bad));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().to_string().find("vsock section appears twice"), std::string::npos) << r.error().to_string();
  bad = *sections;
  bad.back().bytes.push_back(0);
  EXPECT_FALSE(decode(with_sections(bad)));
}

// A VM with a balloon: section 10 names its virtio device by window.
MachineState sample_with_balloon() {
  MachineState s = sample();
  VirtioState b;
  b.device_type = 5;
  b.mmio_base = 0xd0003000;
  b.queues.resize(3);
  s.virtio.push_back(b);
  s.balloon = BalloonState{0xd0003000, 32768, 32000, 5, uint16_t{7}};
  return s;
}

TEST(SnapshotFormat, BalloonSectionRoundTrips) {
  auto back = decode(encode(sample_with_balloon()));
  ASSERT_TRUE(back) << back.error().to_string();
  ASSERT_TRUE(back->balloon);
  EXPECT_EQ(back->balloon->mmio_base, 0xd0003000u);
  EXPECT_EQ(back->balloon->target_pages, 32768u);
  EXPECT_EQ(back->balloon->actual_pages, 32000u);
  EXPECT_EQ(back->balloon->stats_interval_s, 5u);
  EXPECT_EQ(back->balloon->stats_head, uint16_t{7});
  auto none = sample_with_balloon();
  none.balloon->stats_head.reset();
  back = decode(encode(none));
  ASSERT_TRUE(back);
  EXPECT_FALSE(back->balloon->stats_head);
  // Without the section (a snapshot from before it existed): no balloon state.
  EXPECT_FALSE(decode(encode(sample()))->balloon);
}

TEST(SnapshotFormat, HostileBalloonSectionsAreRefused) {
  auto s = sample_with_balloon();
  s.balloon->mmio_base = 0xd0000000;  // no balloon there
  auto r = decode(encode(s));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().to_string().find("names no virtio-balloon device"), std::string::npos) << r.error().to_string();
  auto sections = parse(encode(sample_with_balloon()));
  ASSERT_TRUE(sections);
  auto twice = *sections;
  twice.push_back(twice.back());
  r = decode(with_sections(twice));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().to_string().find("balloon section appears twice"), std::string::npos) << r.error().to_string();
  auto flag = *sections;
  flag.back().bytes[20] = 2;  // the held-buffer flag
  r = decode(with_sections(flag));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().to_string().find("stats_head flag"), std::string::npos) << r.error().to_string();
}

// The IB700 watchdog's section (11): optional, as every section added after the first release.
TEST(SnapshotFormat, WatchdogSectionRoundTripsAndIsChecked) {
  auto s = sample();
  s.watchdog = WatchdogState{true, 13, 2500};
  auto back = decode(encode(s));
  ASSERT_TRUE(back) << back.error().to_string();
  ASSERT_TRUE(back->watchdog);
  EXPECT_TRUE(back->watchdog->armed);
  EXPECT_EQ(back->watchdog->timeout_value, 13);
  EXPECT_EQ(back->watchdog->remaining_ms, 2500u);
  EXPECT_FALSE(decode(encode(sample()))->watchdog);  // older snapshots have none

  auto sections = parse(encode(s));
  ASSERT_TRUE(sections);
  auto bad_value = *sections;
  bad_value.back().bytes[1] = 16;  // the start port takes a nibble
  auto r = decode(with_sections(bad_value));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().to_string().find("timeout value 16"), std::string::npos) << r.error().to_string();
  auto twice = *sections;
  twice.push_back(twice.back());
  r = decode(with_sections(twice));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().to_string().find("watchdog section appears twice"), std::string::npos) << r.error().to_string();
}

}  // namespace
}  // namespace vessel::vmm::snapshot

