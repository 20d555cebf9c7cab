// The slow test: Debian's stock kernel (PVH vmlinux from the default guest) with the default
// initramfs boots on vessel-vmm, sees all vCPUs and its memory, reads a virtio-blk disk prepared
// by the host, writes to it, and powers off with exit 0; the host then checks the bytes.
#include <unistd.h>

#include <chrono>

#include "vmm_harness.h"

namespace vessel::vmm::test {
namespace {

TEST(LinuxBoot, DebianKernelBootsUsesVirtioBlkAndPowersOff) {
  std::string guest_dir = VESSEL_DEFAULT_GUEST_DIR;
  ASSERT_EQ(access((guest_dir + "/vmlinux").c_str(), R_OK), 0) << "build the default_guest target first";
  TempDir dir;
  // 8 MiB disk: block 0 carries a marker the guest must read; the guest writes block 1.
  std::string disk(8 << 20, '\0');
  const std::string marker = "vessel-host-marker-6d1f";
  disk.replace(0, marker.size(), marker);
  ASSERT_TRUE(write_file(dir.file("disk.raw"), disk));
  const std::string written = "vessel-guest-wrote-this-block";
  std::string cmd = "cat /sys/block/vda/size; dd if=/dev/vda bs=512 count=1 2>/dev/null | head -c " +
                    std::to_string(marker.size()) + "; echo; echo " + written +
                    " | dd of=/dev/vda bs=4096 seek=1 conv=fsync 2>/dev/null; echo wrote";
  // The default guest's kernel command line (guest/build_default_guest.py writes it).
  auto boot_args = read_file(guest_dir + "/cmdline");
  ASSERT_TRUE(boot_args) << "the default guest has no cmdline file: rebuild it";
  while (!boot_args->empty() && boot_args->back() == '\n') boot_args->pop_back();
  json::Json cfg = {
      {"boot-source",
       {{"kernel_image_path", guest_dir + "/vmlinux"},
        {"initrd_path", guest_dir + "/initramfs.cpio"},
        {"boot_args", *boot_args + " -- " + cmd}}},
      {"machine-config", {{"vcpu_count", 2}, {"mem_size_mib", 256}}},
      {"drives", {{{"drive_id", "data"}, {"path_on_host", dir.file("disk.raw")}, {"is_root_device", false}, {"is_read_only", false}}}}};
  ASSERT_TRUE(write_file(dir.file("vm.json"), cfg.dump()));
  auto t0 = std::chrono::steady_clock::now();
  // On PVM the guest kernel's ring-0 code is emulated (20-28 min seen); with hardware KVM the boot
  // takes under a second, in the nested TCG host ~15 s.
  bool pvm = access("/sys/module/kvm_pvm", F_OK) == 0;
  auto r = run_vmm({"--config-file", dir.file("vm.json")}, std::chrono::minutes(pvm ? 55 : 10));
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("Linux boot to poweroff took %.1f s\n", secs);
  RecordProperty("boot_seconds", std::to_string(secs));
  EXPECT_EQ(r.status.code, 0) << r.errors << "\n--- console tail:\n"
                              << r.console.substr(r.console.size() > 4000 ? r.console.size() - 4000 : 0);
  EXPECT_NE(r.console.find("vessel-guest: up, 2 cpus"), std::string::npos);
  auto up = r.console.find("vessel-guest: up, ");
  if (up != std::string::npos) {
    // MemTotal in kB: at least 200 MiB of the 256 MiB must be visible (the kernel keeps the rest).
    auto kb_pos = r.console.find(" cpus, ", up);
    ASSERT_NE(kb_pos, std::string::npos);
    EXPECT_GT(std::stol(r.console.substr(kb_pos + 7)), 200 * 1024);
  }
  EXPECT_NE(r.console.find("16384"), std::string::npos) << "disk size in sectors";
  EXPECT_NE(r.console.find(marker), std::string::npos);
  EXPECT_NE(r.console.find("wrote"), std::string::npos);
  auto after = read_file(dir.file("disk.raw"));
  ASSERT_TRUE(after);
  EXPECT_EQ(after->substr(4096, written.size()), written);
  EXPECT_EQ(after->substr(0, marker.size()), marker);
  std::printf("emulation counters: %s\n", r.metrics["emulation"].dump().c_str());
}

}  // namespace
}  // namespace vessel::vmm::test
