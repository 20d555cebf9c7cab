#include "vmm/api/vm_config.h"

namespace vessel::vmm {

using json::Json;

const char* to_string(DriveFormat format) { return format == DriveFormat::Qcow2 ? "qcow2" : "raw"; }

std::optional<DriveFormat> parse_drive_format(std::string_view text) {
  if (text == "raw") return DriveFormat::Raw;
  if (text == "qcow2") return DriveFormat::Qcow2;
  return std::nullopt;
}

Json to_json(const BootSource& b) {
  Json j = {{"kernel_image_path", b.kernel_image_path}, {"boot_args", b.boot_args}};
  if (b.initrd_path) j["initrd_path"] = *b.initrd_path;
  return j;
}

Json to_json(const MachineConfig& m) {
  Json j = {{"vcpu_count", m.vcpu_count}, {"mem_size_mib", m.mem_size_mib}, {"smt", m.smt}};
  if (m.track_dirty_pages) j["track_dirty_pages"] = true;
  if (m.huge_pages == HugePages::TwoMiB) j["huge_pages"] = "2M";
  if (m.ksm) j["ksm"] = true;
  return j;
}

Json to_json(const DriveConfig& d) {
  Json j = {{"drive_id", d.drive_id}, {"path_on_host", d.path_on_host},
            {"is_root_device", d.is_root_device}, {"is_read_only", d.is_read_only}};
  if (d.format) j["format"] = to_string(*d.format);
  if (d.partuuid) j["partuuid"] = *d.partuuid;
  if (d.cache_type) j["cache_type"] = *d.cache_type == CacheType::Unsafe ? "Unsafe" : "Writeback";
  if (!d.backing_files.empty()) {
    Json b = Json::array();
    for (const auto& f : d.backing_files) b.push_back(f);
    j["backing_files"] = b;
  }
  if (d.rate_limiter) j["rate_limiter"] = to_json(*d.rate_limiter);
  return j;
}

Json to_json(const NetworkInterfaceConfig& n) {
  Json j = {{"iface_id", n.iface_id}, {"host_dev_name", n.host_dev_name}};
  if (n.guest_mac) j["guest_mac"] = *n.guest_mac;
  if (n.rx_rate_limiter) j["rx_rate_limiter"] = to_json(*n.rx_rate_limiter);
  if (n.tx_rate_limiter) j["tx_rate_limiter"] = to_json(*n.tx_rate_limiter);
  if (n.vhost != NetworkInterfaceConfig::Vhost::Auto)
    j["vhost"] = n.vhost == NetworkInterfaceConfig::Vhost::On ? "on" : "off";
  return j;
}

Result<std::array<uint8_t, 6>> parse_mac(std::string_view text, std::string_view where) {
  std::array<uint8_t, 6> mac{};
  auto bad = [&](const char* why) {
    return fail(EINVAL, "{}: '{}' is not a MAC address like \"06:00:ac:10:00:02\" ({})", where, text, why);
  };
  if (text.size() != 17) return bad("17 characters expected");
  for (size_t i = 0; i < 6; ++i) {
    if (i > 0 && text[3 * i - 1] != ':') return bad("':' between the bytes");
    unsigned v = 0;
    for (size_t k = 0; k < 2; ++k) {
      char ch = static_cast<char>(tolower(static_cast<unsigned char>(text[3 * i + k])));
      if (!isxdigit(static_cast<unsigned char>(ch))) return bad("hex digits");
      v = v * 16 + static_cast<unsigned>(isdigit(static_cast<unsigned char>(ch)) ? ch - '0' : ch - 'a' + 10);
    }
    mac[i] = static_cast<uint8_t>(v);
  }
  if (mac[0] & 1) return bad("a multicast address");
  if (mac == std::array<uint8_t, 6>{}) return bad("all zeros");
  return mac;
}

Result<NetworkInterfaceConfig> parse_network_interface(const Json& j, std::string_view where) {
  if (!j.is_object()) return fail(EINVAL, "{}: expected an object, got {}", where, json::type_name(j));
  TRY(json::reject_unknown(j, where,
                           {"iface_id", "host_dev_name", "guest_mac", "rx_rate_limiter", "tx_rate_limiter", "vhost"}));
  NetworkInterfaceConfig n;
  n.iface_id = TRY(json::get_string(j, where, "iface_id"));
  if (n.iface_id.empty() || n.iface_id.size() > 64)
    return fail(EINVAL, "{}.iface_id: must be 1..64 characters", where);
  for (char ch : n.iface_id)
    if (!(isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-'))
      return fail(EINVAL, "{}.iface_id: '{}' may only contain letters, digits, '_' and '-'", where, n.iface_id);
  n.host_dev_name = TRY(json::get_string(j, where, "host_dev_name"));
  if (n.host_dev_name.empty() || n.host_dev_name.size() > 15 ||
      n.host_dev_name.find_first_of("/: \t\n") != std::string::npos || n.host_dev_name == "." || n.host_dev_name == "..")
    return fail(EINVAL, "{}.host_dev_name: '{}' is not an interface name (1..15 characters, no '/', ':' or spaces)",
                where, n.host_dev_name);
  if (j.contains("guest_mac") && !j["guest_mac"].is_null()) {
    n.guest_mac = TRY(json::get_string(j, where, "guest_mac"));
    TRY(parse_mac(*n.guest_mac, std::string(where) + ".guest_mac"));
  }
  if (j.contains("rx_rate_limiter") && !j["rx_rate_limiter"].is_null())
    n.rx_rate_limiter = TRY(parse_rate_limiter(j["rx_rate_limiter"], std::string(where) + ".rx_rate_limiter"));
  if (j.contains("tx_rate_limiter") && !j["tx_rate_limiter"].is_null())
    n.tx_rate_limiter = TRY(parse_rate_limiter(j["tx_rate_limiter"], std::string(where) + ".tx_rate_limiter"));
  if (auto v = TRY(json::opt_string(j, where, "vhost"))) {
    if (*v == "auto") n.vhost = NetworkInterfaceConfig::Vhost::Auto;
    else if (*v == "on") n.vhost = NetworkInterfaceConfig::Vhost::On;
    else if (*v == "off") n.vhost = NetworkInterfaceConfig::Vhost::Off;
    else return fail(EINVAL, "{}.vhost: '{}' is not \"auto\", \"on\" or \"off\"", where, *v);
  }
  if (n.vhost == NetworkInterfaceConfig::Vhost::On && (n.rx_rate_limiter || n.tx_rate_limiter))
    return fail(EINVAL, "{}: vhost-net (\"vhost\": \"on\") cannot apply rx_rate_limiter/tx_rate_limiter", where);
  return n;
}

Result<void> put_network_interface(std::vector<NetworkInterfaceConfig>& list, NetworkInterfaceConfig n,
                                   std::string_view where) {
  auto lower = [](std::string s) {
    for (auto& ch : s) ch = static_cast<char>(tolower(static_cast<unsigned char>(ch)));
    return s;
  };
  NetworkInterfaceConfig* same = nullptr;
  for (auto& other : list) {
    if (other.iface_id == n.iface_id) {
      same = &other;
      continue;
    }
    if (other.host_dev_name == n.host_dev_name)
      return fail(EINVAL, "{}.host_dev_name: '{}' is already used by interface '{}'", where, n.host_dev_name, other.iface_id);
    if (n.guest_mac && other.guest_mac && lower(*other.guest_mac) == lower(*n.guest_mac))
      return fail(EINVAL, "{}.guest_mac: {} is already used by interface '{}'", where, *n.guest_mac, other.iface_id);
  }
  if (same) {
    *same = std::move(n);
    return {};
  }
  if (list.size() >= kMaxNetworkInterfaces)
    return fail(EINVAL, "{}: at most {} network interfaces are supported", where, kMaxNetworkInterfaces);
  list.push_back(std::move(n));
  return {};
}

Result<BootSource> parse_boot_source(const Json& j) {
  if (!j.is_object()) return fail(EINVAL, "boot-source: expected an object, got {}", json::type_name(j));
  TRY(json::reject_unknown(j, "boot-source", {"kernel_image_path", "initrd_path", "boot_args"}));
  BootSource b;
  b.kernel_image_path = TRY(json::get_string(j, "boot-source", "kernel_image_path"));
  if (b.kernel_image_path.empty()) return fail(EINVAL, "boot-source.kernel_image_path: must not be empty");
  b.initrd_path = TRY(json::opt_string(j, "boot-source", "initrd_path"));
  b.boot_args = TRY(json::opt_string(j, "boot-source", "boot_args")).value_or("");
  return b;
}

Result<void> check_memory_options(const MachineConfig& m) {
  if (m.huge_pages == HugePages::TwoMiB && m.mem_size_mib % 2 != 0)
    return fail(EINVAL, "machine-config.mem_size_mib: {} MiB is not a multiple of the 2 MiB huge page (huge_pages 2M)",
                m.mem_size_mib);
  if (m.huge_pages == HugePages::TwoMiB && m.ksm)
    return fail(EINVAL, "machine-config.ksm: KSM does not merge hugetlbfs pages; use ksm or huge_pages 2M, not both");
  return {};
}

Result<MachineConfig> parse_machine_config(const Json& j, const MachineConfig& base) {
  if (!j.is_object()) return fail(EINVAL, "machine-config: expected an object, got {}", json::type_name(j));
  TRY(json::reject_unknown(j, "machine-config",
                           {"vcpu_count", "mem_size_mib", "smt", "track_dirty_pages", "cpu_template", "huge_pages", "ksm"}));
  MachineConfig m = base;
  if (auto v = TRY(json::opt_uint(j, "machine-config", "vcpu_count"))) {
    if (*v < 1 || *v > kMaxVcpuCount)
      return fail(EINVAL, "machine-config.vcpu_count: {} is out of range (1..{})", *v, kMaxVcpuCount);
    m.vcpu_count = static_cast<uint32_t>(*v);
  }
  if (auto v = TRY(json::opt_uint(j, "machine-config", "mem_size_mib"))) {
    if (*v < 16 || *v > kMaxMemMib)
      return fail(EINVAL, "machine-config.mem_size_mib: {} is out of range (16..{})", *v, kMaxMemMib);
    m.mem_size_mib = *v;
  }
  if (auto v = TRY(json::opt_bool(j, "machine-config", "smt"))) {
    if (*v) return fail(EINVAL, "machine-config.smt: true is not supported (one thread per core)");
    m.smt = false;
  }
  if (auto v = TRY(json::opt_bool(j, "machine-config", "track_dirty_pages"))) m.track_dirty_pages = *v;
  if (auto v = TRY(json::opt_string(j, "machine-config", "huge_pages"))) {
    if (*v != "None" && *v != "2M") return fail(EINVAL, "machine-config.huge_pages: '{}' is not None or 2M", *v);
    m.huge_pages = *v == "2M" ? HugePages::TwoMiB : HugePages::None;
  }
  if (auto v = TRY(json::opt_bool(j, "machine-config", "ksm"))) m.ksm = *v;
  TRY(check_memory_options(m));
  return m;
}

Result<std::vector<std::string>> parse_backing_files(const Json& b, std::string_view where) {
  if (!b.is_array()) return fail(EINVAL, "{}.backing_files: expected an array of paths, got {}", where, json::type_name(b));
  if (b.size() > kMaxBackingFiles) return fail(EINVAL, "{}.backing_files: at most {} files", where, kMaxBackingFiles);
  std::vector<std::string> out;
  for (size_t i = 0; i < b.size(); ++i) {
    if (!b[i].is_string() || b[i].get<std::string>().empty() || b[i].get<std::string>()[0] != '/')
      return fail(EINVAL, "{}.backing_files[{}]: expected an absolute path", where, i);
    out.push_back(b[i].get<std::string>());
  }
  return out;
}

Result<DriveConfig> parse_drive(const Json& j, std::string_view where) {
  if (!j.is_object()) return fail(EINVAL, "{}: expected an object, got {}", where, json::type_name(j));
  TRY(json::reject_unknown(j, where, {"drive_id", "path_on_host", "is_root_device", "is_read_only", "partuuid",
                                      "cache_type", "io_engine", "rate_limiter", "format", "backing_files"}));
  DriveConfig d;
  d.drive_id = TRY(json::get_string(j, where, "drive_id"));
  if (d.drive_id.empty() || d.drive_id.size() > 64)
    return fail(EINVAL, "{}.drive_id: must be 1..64 characters", where);
  for (char c : d.drive_id)
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'))
      return fail(EINVAL, "{}.drive_id: '{}' may only contain letters, digits, '_' and '-'", where, d.drive_id);
  d.path_on_host = TRY(json::get_string(j, where, "path_on_host"));
  if (d.path_on_host.empty()) return fail(EINVAL, "{}.path_on_host: must not be empty", where);
  d.is_root_device = TRY(json::opt_bool(j, where, "is_root_device")).value_or(false);
  d.is_read_only = TRY(json::opt_bool(j, where, "is_read_only")).value_or(false);
  if (auto f = TRY(json::opt_string(j, where, "format"))) {
    d.format = parse_drive_format(*f);
    if (!d.format)
      return fail(EINVAL, "{}.format: '{}' is not \"raw\" or \"qcow2\" (left out, the drive is raw)", where, *f);
  }
  // Firecracker's fields: each one is either done or refused, never ignored.
  if (j.contains("rate_limiter") && !j["rate_limiter"].is_null())
    d.rate_limiter = TRY(parse_rate_limiter(j["rate_limiter"], std::string(where) + ".rate_limiter"));
  if (auto e = TRY(json::opt_string(j, where, "io_engine"))) {
    if (*e == "Async")
      return fail(ENOTSUP, "{}.io_engine: \"Async\" (io_uring) is not supported yet; \"Sync\" (the default) is what "
                  "vessel-vmm does, with requests spread over I/O threads", where);
    if (*e != "Sync") return fail(EINVAL, "{}.io_engine: '{}' is not \"Sync\" or \"Async\"", where, *e);
  }
  if (auto c = TRY(json::opt_string(j, where, "cache_type"))) {
    if (*c == "Unsafe") d.cache_type = CacheType::Unsafe;
    else if (*c == "Writeback") d.cache_type = CacheType::Writeback;
    else return fail(EINVAL, "{}.cache_type: '{}' is not \"Unsafe\" or \"Writeback\"", where, *c);
  }
  if (j.contains("partuuid") && !j["partuuid"].is_null()) {
    d.partuuid = TRY(json::get_string(j, where, "partuuid"));
    const std::string& u = *d.partuuid;
    if (u.empty() || u.size() > 36 || u.find_first_not_of("0123456789abcdefABCDEF-") != std::string::npos)
      return fail(EINVAL, "{}.partuuid: '{}' is not a partition UUID (hex digits and '-', at most 36)", where, u);
    if (!d.is_root_device)
      return fail(ENOTSUP, "{}.partuuid: only the root device's partuuid is used (root=PARTUUID=...); it is not "
                  "supported on other drives", where);
  }
  if (j.contains("backing_files")) {
    d.backing_files = TRY(parse_backing_files(j["backing_files"], where));
    if (!d.backing_files.empty() && d.format != DriveFormat::Qcow2)
      return fail(EINVAL, "{}.backing_files: only qcow2 drives have backing files (set \"format\": \"qcow2\")", where);
  }
  return d;
}

Json to_json(const VsockDeviceConfig& v) { return Json{{"guest_cid", v.guest_cid}, {"uds_path", v.uds_path}}; }

Result<VsockDeviceConfig> parse_vsock(const Json& j) {
  if (!j.is_object()) return fail(EINVAL, "vsock: expected an object, got {}", json::type_name(j));
  TRY(json::reject_unknown(j, "vsock", {"guest_cid", "uds_path", "vsock_id"}));
  if (j.contains("vsock_id") && !j["vsock_id"].is_string()) return fail(EINVAL, "vsock.vsock_id: expected a string");
  VsockDeviceConfig v;
  if (!j.contains("guest_cid")) return fail(EINVAL, "vsock.guest_cid: missing");
  const Json& cid = j["guest_cid"];
  if (!cid.is_number_unsigned() || cid.get<uint64_t>() < 3 || cid.get<uint64_t>() > UINT32_MAX)
    return fail(EINVAL, "vsock.guest_cid: expected an integer from 3 to 4294967295 (0-2 are reserved)");
  v.guest_cid = cid.get<uint64_t>();
  v.uds_path = TRY(json::get_string(j, "vsock", "uds_path"));
  if (v.uds_path.empty() || v.uds_path.size() > kMaxVsockUdsPath)
    return fail(EINVAL, "vsock.uds_path: expected 1 to {} bytes (\"<uds_path>_<port>\" must fit a Unix socket address)",
                kMaxVsockUdsPath);
  return v;
}

Result<VmConfig> parse_vm_config(std::string_view text) {
  Json j = TRY(json::parse(text, 1 << 20, 32));
  if (!j.is_object()) return fail(EINVAL, "config: expected an object, got {}", json::type_name(j));
  TRY(json::reject_unknown(j, "config", {"boot-source", "machine-config", "drives", "entropy",
                                         "network-interfaces", "logger", "metrics", "vessel", "vsock", "balloon",
                                         "watchdog"}));
  VmConfig c;
  if (!j.contains("boot-source")) return fail(EINVAL, "config: missing \"boot-source\"");
  c.boot_source = TRY(parse_boot_source(j["boot-source"]));
  if (j.contains("machine-config")) c.machine = TRY(parse_machine_config(j["machine-config"], c.machine));
  if (j.contains("drives")) {
    const Json& drives = j["drives"];
    if (!drives.is_array()) return fail(EINVAL, "drives: expected an array, got {}", json::type_name(drives));
    if (drives.size() > 16) return fail(EINVAL, "drives: at most 16 drives are supported");
    for (size_t i = 0; i < drives.size(); ++i) {
      auto d = TRY(parse_drive(drives[i], fmt::format("drives[{}]", i)));
      for (const auto& other : c.drives)
        if (other.drive_id == d.drive_id) return fail(EINVAL, "drives[{}]: duplicate drive_id '{}'", i, d.drive_id);
      c.drives.push_back(std::move(d));
    }
  }
  if (j.contains("network-interfaces")) {
    const Json& nets = j["network-interfaces"];
    if (!nets.is_array()) return fail(EINVAL, "network-interfaces: expected an array, got {}", json::type_name(nets));
    for (size_t i = 0; i < nets.size(); ++i) {
      std::string where = fmt::format("network-interfaces[{}]", i);
      auto n = TRY(parse_network_interface(nets[i], where));
      for (const auto& other : c.network_interfaces)
        if (other.iface_id == n.iface_id) return fail(EINVAL, "{}: duplicate iface_id '{}'", where, n.iface_id);
      TRY(put_network_interface(c.network_interfaces, std::move(n), where));
    }
  }
  if (j.contains("entropy")) {
    if (!j["entropy"].is_object()) return fail(EINVAL, "entropy: expected an object");
    c.entropy = true;
  }
  if (j.contains("vsock")) c.vsock = TRY(parse_vsock(j["vsock"]));
  if (j.contains("balloon")) c.balloon = TRY(parse_balloon(j["balloon"]));
  if (j.contains("watchdog")) c.watchdog = TRY(parse_watchdog(j["watchdog"]));
  if (j.contains("vessel")) {
    const Json& v = j["vessel"];
    if (!v.is_object()) return fail(EINVAL, "vessel: expected an object, got {}", json::type_name(v));
    TRY(json::reject_unknown(v, "vessel", {"on_reboot", "io_nice"}));
    if (v.contains("io_nice")) {
      if (!v["io_nice"].is_number_integer() || v["io_nice"].get<int64_t>() < -20 || v["io_nice"].get<int64_t>() > 19)
        return fail(EINVAL, "vessel.io_nice: expected an integer from -20 to 19");
      c.io_nice = v["io_nice"].get<int>();
    }
    if (auto r = TRY(json::opt_string(v, "vessel", "on_reboot"))) {
      if (*r == "exit") c.on_reboot = OnReboot::Exit;
      else if (*r == "restart") c.on_reboot = OnReboot::Restart;
      else return fail(EINVAL, "vessel.on_reboot: '{}' is not \"exit\" or \"restart\"", *r);
    }
  }
  return c;
}

Result<void> validate_for_start(const VmConfig& c) {
  if (!c.boot_source) return fail(EINVAL, "no boot source: PUT /boot-source first");
  int roots = 0;
  for (const auto& d : c.drives) roots += d.is_root_device;
  if (roots > 1) return fail(EINVAL, "more than one drive is marked is_root_device");
  TRY(check_memory_options(c.machine));
  if (c.balloon)
    TRY(check_balloon(*c.balloon, c.machine.mem_size_mib, c.machine.huge_pages != HugePages::None));
  return {};
}

Json VmConfig::to_json() const {
  Json j = Json::object();
  if (boot_source) j["boot-source"] = vmm::to_json(*boot_source);
  j["machine-config"] = vmm::to_json(machine);
  Json drives = Json::array();
  for (const auto& d : this->drives) drives.push_back(vmm::to_json(d));
  j["drives"] = drives;
  if (entropy) j["entropy"] = Json::object();
  if (vsock) j["vsock"] = vmm::to_json(*vsock);
  if (balloon) j["balloon"] = vmm::to_json(*balloon);
  if (watchdog) j["watchdog"] = vmm::to_json(*watchdog);
  if (!network_interfaces.empty()) {
    Json nets = Json::array();
    for (const auto& n : network_interfaces) nets.push_back(vmm::to_json(n));
    j["network-interfaces"] = nets;
  }
  if (on_reboot == OnReboot::Restart) j["vessel"]["on_reboot"] = "restart";
  if (io_nice != 0) j["vessel"]["io_nice"] = io_nice;
  return j;
}

}  // namespace vessel::vmm
