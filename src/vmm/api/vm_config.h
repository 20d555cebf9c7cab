// The VM's configuration in Firecracker's JSON shapes (boot-source, machine-config, drives,
// entropy), parsed with clear, field-naming errors; used by --config-file and the API
// (docs/vmm/api.md). Its own library (vessel_vmm_config, base only): vesseld fills these types
// and sends their to_json() to vessel-vmm, which parses them back.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/json.h"
#include "vmm/api/balloon_config.h"
#include "vmm/api/rate_limiter_config.h"
#include "vmm/api/watchdog_config.h"

namespace vessel::vmm {

struct BootSource {
  std::string kernel_image_path;
  std::optional<std::string> initrd_path;
  std::string boot_args;
};

// Host pages behind guest RAM (Firecracker's huge_pages): the kernel's 4 KiB pages, or 2 MiB
// hugetlbfs pages reserved with vm.nr_hugepages (docs/vmm/memory.md).
enum class HugePages { None, TwoMiB };

struct MachineConfig {
  uint32_t vcpu_count = 1;
  uint64_t mem_size_mib = 128;
  bool smt = false;
  // KVM's dirty log on guest RAM (and vessel-vmm's own writes tracked): Diff snapshots need it.
  bool track_dirty_pages = false;
  HugePages huge_pages = HugePages::None;
  // vessel extension: guest RAM marked MADV_MERGEABLE, so that KSM may share identical pages
  // with other VMs (docs/vmm/memory.md).
  bool ksm = false;
};

// Disk image formats (vessel extension "format"); absent: raw, as Firecracker (never probed).
enum class DriveFormat { Raw, Qcow2 };
// Firecracker's cache_type: Writeback offers VIRTIO_BLK_F_FLUSH and a guest flush reaches the
// disk; Unsafe offers no flush and never waits for the disk. vessel-vmm's default is Writeback.
enum class CacheType { Unsafe, Writeback };
const char* to_string(DriveFormat format);
std::optional<DriveFormat> parse_drive_format(std::string_view text);

struct DriveConfig {
  std::string drive_id;
  std::string path_on_host;
  bool is_root_device = false;
  bool is_read_only = false;
  std::optional<DriveFormat> format;
  // Firecracker's partuuid: with is_root_device, the kernel gets root=PARTUUID=<it>.
  std::optional<std::string> partuuid;
  std::optional<CacheType> cache_type;  // absent: Writeback
  // vessel extension: the only files a qcow2 drive's backing chain may use (absolute host paths,
  // compared after resolving symbolic links). Empty: an image that names a backing file does not
  // start. See docs/vmm/api.md, "Backing files".
  std::vector<std::string> backing_files;
  // Firecracker's rate_limiter: bandwidth (bytes) and ops (requests) token buckets.
  std::optional<RateLimiterConfig> rate_limiter;
};
inline constexpr size_t kMaxBackingFiles = 64;

// Firecracker's network-interfaces entry: a virtio-net device over an existing tap.
struct NetworkInterfaceConfig {
  std::string iface_id;
  std::string host_dev_name;             // the tap (at most 15 characters)
  std::optional<std::string> guest_mac;  // "06:00:ac:10:00:02"; absent: one derived from the names
  std::optional<RateLimiterConfig> rx_rate_limiter, tx_rate_limiter;
  // vessel extension "vhost": "auto" (absent: vhost-net when /dev/vhost-net opens and no rate
  // limiter is set, else the userspace path), "on" (vhost-net or a start error), "off".
  enum class Vhost { Auto, On, Off } vhost = Vhost::Auto;
};
inline constexpr size_t kMaxNetworkInterfaces = 8;

enum class OnReboot { Exit, Restart };

// Firecracker's vsock: a virtio-vsock device whose host side is Unix sockets at uds_path
// (docs/vmm/vsock.md). vsock_id (deprecated in Firecracker) is accepted and not kept.
struct VsockDeviceConfig {
  uint64_t guest_cid = 3;  // 3..2^32-1
  std::string uds_path;    // at most 96 bytes: "<uds_path>_<port>" must fit a sockaddr_un
};
inline constexpr size_t kMaxVsockUdsPath = 96;
json::Json to_json(const VsockDeviceConfig& v);
Result<VsockDeviceConfig> parse_vsock(const json::Json& j);

struct VmConfig {
  std::optional<BootSource> boot_source;
  MachineConfig machine;
  std::vector<DriveConfig> drives;
  bool entropy = false;
  std::optional<VsockDeviceConfig> vsock;
  std::vector<NetworkInterfaceConfig> network_interfaces;
  std::optional<BalloonConfig> balloon;  // Firecracker's balloon (docs/vmm/balloon.md)
  std::optional<WatchdogConfig> watchdog;  // vessel extension: an IB700 watchdog (docs/vmm/watchdog.md)
  // vessel extension ("vessel": {"on_reboot": "exit"|"restart"}): what a guest reboot does.
  OnReboot on_reboot = OnReboot::Exit;
  // vessel extension ("vessel": {"io_nice": N}, -20..19): nice value of the virtio threads.
  int io_nice = 0;
  json::Json to_json() const;
};

inline constexpr uint32_t kMaxVcpuCount = 32;
inline constexpr uint64_t kMaxMemMib = 64 * 1024;

// The JSON of each part, as PUT /boot-source, /machine-config and /drives/{id} take it.
json::Json to_json(const BootSource& b);
json::Json to_json(const MachineConfig& m);
json::Json to_json(const DriveConfig& d);
json::Json to_json(const NetworkInterfaceConfig& n);

Result<BootSource> parse_boot_source(const json::Json& j);
Result<MachineConfig> parse_machine_config(const json::Json& j, const MachineConfig& base);
// huge_pages 2M needs RAM in whole 2 MiB pages and excludes ksm.
Result<void> check_memory_options(const MachineConfig& m);
Result<DriveConfig> parse_drive(const json::Json& j, std::string_view where);
// A drive's "backing_files" (PUT, and PATCH of a running VM's drive): absolute paths, at most
// kMaxBackingFiles.
Result<std::vector<std::string>> parse_backing_files(const json::Json& b, std::string_view where);
Result<NetworkInterfaceConfig> parse_network_interface(const json::Json& j, std::string_view where);
// "06:00:ac:10:00:02" (case-insensitive): a unicast address, not all zeros.
Result<std::array<uint8_t, 6>> parse_mac(std::string_view text, std::string_view where);
// Adds or replaces (same iface_id) an interface; refuses a host_dev_name or guest_mac another
// interface already uses, and more than kMaxNetworkInterfaces.
Result<void> put_network_interface(std::vector<NetworkInterfaceConfig>& list, NetworkInterfaceConfig n,
                                   std::string_view where);
// A whole --config-file document.
Result<VmConfig> parse_vm_config(std::string_view text);
// Checks a configuration is complete enough to boot.
Result<void> validate_for_start(const VmConfig& config);

}  // namespace vessel::vmm
