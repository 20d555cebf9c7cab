// vesseld's side of the VM configuration: the typed vmm::VmConfig it fills for vessel-vmm, and
// that vessel-vmm's parsers read each part back unchanged.
#include <gtest/gtest.h>

#include "daemon/instances/vm_backend.h"

namespace vessel::daemon {
namespace {

TEST(VmmConfig, FilledFromTheSpecAndItsBootSourceAndReadBackByTheVmm) {
  InstanceSpec spec;
  spec.name = "vm1";
  spec.type = InstanceType::Vm;
  spec.cpus = 2;
  spec.memory_mib = 512;
  BootSource boot;
  boot.kernel = "/images/vmlinuz";
  boot.cmdline = "console=ttyS0";
  boot.disks = {{"/state/vm1/disk0.qcow2", false, "qcow2", 0, {"/state/images/disks/deb/disk0.qcow2"}},
                {"/data/ro.img", true, "", 0}};
  auto c = vmm_config(spec, boot);
  ASSERT_TRUE(c) << c.error().to_string();
  EXPECT_EQ(c->machine.vcpu_count, 2u);
  EXPECT_EQ(c->machine.mem_size_mib, 512u);
  ASSERT_TRUE(c->boot_source);
  EXPECT_FALSE(c->boot_source->initrd_path);
  ASSERT_EQ(c->drives.size(), 2u);
  EXPECT_EQ(c->drives[1].drive_id, "disk1");
  EXPECT_EQ(c->drives[1].format, vmm::DriveFormat::Raw);  // no format given: raw, never probed

  auto machine = vmm::parse_machine_config(vmm::to_json(c->machine), {});
  ASSERT_TRUE(machine) << machine.error().to_string();
  EXPECT_EQ(machine->vcpu_count, 2u);
  EXPECT_EQ(machine->mem_size_mib, 512u);
  auto source = vmm::parse_boot_source(vmm::to_json(*c->boot_source));
  ASSERT_TRUE(source) << source.error().to_string();
  EXPECT_EQ(source->kernel_image_path, "/images/vmlinuz");
  EXPECT_EQ(source->boot_args, "console=ttyS0");
  EXPECT_FALSE(source->initrd_path);
  for (size_t i = 0; i < 2; ++i) {
    auto d = vmm::parse_drive(vmm::to_json(c->drives[i]), "drive");
    ASSERT_TRUE(d) << d.error().to_string();
    EXPECT_EQ(d->drive_id, c->drives[i].drive_id);
    EXPECT_EQ(d->path_on_host, boot.disks[i].path);
    EXPECT_EQ(d->is_read_only, boot.disks[i].read_only);
    EXPECT_FALSE(d->is_root_device);
    EXPECT_EQ(d->format, i == 0 ? vmm::DriveFormat::Qcow2 : vmm::DriveFormat::Raw);
    // The overlay's base is the one backing file vessel-vmm may follow; the client's disk gets none.
    EXPECT_EQ(d->backing_files, boot.disks[i].backing_files);
  }
  EXPECT_EQ(c->drives[0].backing_files.size(), 1u);
  // The whole document is what --config-file takes.
  auto whole = vmm::parse_vm_config(c->to_json().dump());
  ASSERT_TRUE(whole) << whole.error().to_string();
  EXPECT_EQ(whole->drives.size(), 2u);
}

TEST(VmmConfig, InitramfsAndAnUnknownDiskFormat) {
  InstanceSpec spec;
  BootSource boot;
  boot.kernel = "/k";
  boot.initramfs = "/i";
  auto c = vmm_config(spec, boot);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->boot_source->initrd_path, "/i");
  boot.disks = {{"/d", false, "vmdk", 0}};
  auto bad = vmm_config(spec, boot);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().errnum(), EINVAL);
}

TEST(VmmConfig, VolumesAreRawDrivesNamedOnTheCommandLine) {
  InstanceSpec spec;
  BootSource boot;
  boot.kernel = "/k";
  boot.cmdline = "console=ttyS0 -- sh";
  boot.disks = {{"/d.qcow2", false, "qcow2", 0}};
  VolumeDisks volumes = {{MountSpec{.kind = MountKind::Volume, .source = "a", .target = "/data"}, "/v/a/disk.raw"},
                         {MountSpec{.kind = MountKind::Volume, .source = "b", .target = "/srv", .read_only = true}, "/v/b/disk.raw"}};
  auto c = vmm_config(spec, boot, std::nullopt, volumes);
  ASSERT_TRUE(c) << c.error().to_string();
  ASSERT_EQ(c->drives.size(), 3u);
  EXPECT_EQ(c->drives[1].drive_id, "vol0");
  EXPECT_EQ(c->drives[1].path_on_host, "/v/a/disk.raw");
  EXPECT_FALSE(c->drives[1].is_read_only);
  EXPECT_EQ(c->drives[2].drive_id, "vol1");
  EXPECT_TRUE(c->drives[2].is_read_only);
  EXPECT_EQ(c->drives[2].format, vmm::DriveFormat::Raw);
  EXPECT_EQ(c->boot_source->boot_args, "console=ttyS0 vessel.volumes=vol0:/data,vol1:/srv:ro -- sh");
}

}  // namespace
}  // namespace vessel::daemon
