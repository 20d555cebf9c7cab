#include "runtime/cgroups/systemd_manager.h"

#include <unistd.h>

#include <chrono>
#include <type_traits>

#include "runtime/cgroups/sd_bus_library.h"
#include "runtime/spec/spec.h"

namespace vessel::runtime {

namespace {

constexpr const char* kDestination = "org.freedesktop.systemd1";
constexpr const char* kObject = "/org/freedesktop/systemd1";
constexpr const char* kManager = "org.freedesktop.systemd1.Manager";
constexpr const char* kPrivateAddress = "unix:path=/run/systemd/private";
constexpr const char* kPrivateSocket = "/run/systemd/private";
constexpr uint64_t kCallTimeoutUsec = 25'000'000;  // sd-bus's own default
constexpr auto kJobTimeout = std::chrono::seconds(30);

struct MessageRef {
  const SdBusLibrary* lib;
  sd_bus_message* m = nullptr;
  ~MessageRef() {
    if (m) lib->sd_bus_message_unref(m);
  }
};

struct BusError {
  const SdBusLibrary* lib;
  sd_bus_error e = SD_BUS_ERROR_NULL;
  ~BusError() { lib->sd_bus_error_free(&e); }
  std::string text() const {
    return fmt::format("{}{}{}", e.name ? e.name : "", e.name && e.message ? ": " : "", e.message ? e.message : "");
  }
};

// sd-bus returns -errno.
Result<void> checked(int r, std::string_view what) {
  if (r < 0) return fail(-r, "D-Bus: {}", what);
  return {};
}

Result<void> append_value(const SdBusLibrary& lib, sd_bus_message* m, const UnitProperty::Value& value) {
  auto variant = [&](const char* type, auto&& append) -> Result<void> {
    TRY(checked(lib.sd_bus_message_open_container(m, 'v', type), "build a property"));
    TRY(checked(append(), "build a property"));
    return checked(lib.sd_bus_message_close_container(m), "build a property");
  };
  return std::visit(
      [&](const auto& v) -> Result<void> {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, bool>) {
          int b = v;
          return variant("b", [&] { return lib.sd_bus_message_append_basic(m, 'b', &b); });
        } else if constexpr (std::is_same_v<T, uint64_t>) {
          return variant("t", [&] { return lib.sd_bus_message_append_basic(m, 't', &v); });
        } else if constexpr (std::is_same_v<T, std::string>) {
          return variant("s", [&] { return lib.sd_bus_message_append_basic(m, 's', v.c_str()); });
        } else if constexpr (std::is_same_v<T, std::vector<uint8_t>>) {
          return variant("ay", [&] { return lib.sd_bus_message_append_array(m, 'y', v.data(), v.size()); });
        } else {
          return variant("au", [&] { return lib.sd_bus_message_append_array(m, 'u', v.data(), v.size() * sizeof(uint32_t)); });
        }
      },
      value);
}

// An a(sv) array of properties.
Result<void> append_properties(const SdBusLibrary& lib, sd_bus_message* m, const std::vector<UnitProperty>& properties) {
  TRY(checked(lib.sd_bus_message_open_container(m, 'a', "(sv)"), "build the properties"));
  for (const auto& p : properties) {
    TRY(checked(lib.sd_bus_message_open_container(m, 'r', "sv"), "build a property"));
    TRY(checked(lib.sd_bus_message_append_basic(m, 's', p.name.c_str()), "build a property"));
    TRY_CTX(append_value(lib, m, p.value), "property {}", p.name);
    TRY(checked(lib.sd_bus_message_close_container(m), "build a property"));
  }
  return checked(lib.sd_bus_message_close_container(m), "build the properties");
}

// JobRemoved(u id, o job, s unit, s result) signals seen while a call and its job run.
struct JobWatch {
  const SdBusLibrary* lib;
  std::vector<std::pair<std::string, std::string>> removed;  // job path, result
};

int on_job_removed(sd_bus_message* m, void* userdata, sd_bus_error*) {
  auto* watch = static_cast<JobWatch*>(userdata);
  uint32_t id = 0;
  const char *job = nullptr, *unit = nullptr, *result = nullptr;
  if (watch->lib->sd_bus_message_read(m, "uoss", &id, &job, &unit, &result) < 0) return 0;
  try {
    watch->removed.emplace_back(job, result);
  } catch (...) {
    return -ENOMEM;  // no exception crosses into sd-bus
  }
  return 0;
}

// Waits until `job` is removed from systemd's queue; its result must be "done".
Result<void> wait_job(const SdBusLibrary& lib, sd_bus* bus, const JobWatch& watch, const std::string& job,
                      const char* method, const std::string& unit) {
  auto deadline = std::chrono::steady_clock::now() + kJobTimeout;
  for (;;) {
    for (const auto& [path, result] : watch.removed) {
      if (path != job) continue;
      if (result == "done") return {};
      return hinted(fail(EIO, "systemd: {} {}: the job ended \"{}\"", method, unit, result),
                    fmt::format("`journalctl -u {}` says why", unit));
    }
    int r = lib.sd_bus_process(bus, nullptr);
    TRY(checked(r, "read from systemd"));
    if (r > 0) continue;
    auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return fail(ETIMEDOUT, "systemd: {} {}: its job did not finish in {} s", method, unit, kJobTimeout.count());
    r = lib.sd_bus_wait(bus, static_cast<uint64_t>(left.count()));
    if (r != -EINTR) TRY(checked(r, "wait for systemd"));
  }
}

}  // namespace

Result<SystemdManager> SystemdManager::connect() {
  const SdBusLibrary* lib = TRY(sd_bus_library());
  sd_bus* bus = nullptr;
  bool direct = geteuid() == 0 && access(kPrivateSocket, F_OK) == 0;
  int r = direct ? lib->sd_bus_new(&bus) : lib->sd_bus_open_system(&bus);
  if (direct && r >= 0) r = lib->sd_bus_set_address(bus, kPrivateAddress);
  if (direct && r >= 0) r = lib->sd_bus_start(bus);
  if (r < 0) {
    if (bus) lib->sd_bus_flush_close_unref(bus);
    return hinted(fail(-r, "--systemd-cgroup: cannot connect to systemd ({})", direct ? kPrivateSocket : "the system bus"),
                  "use the cgroupfs driver (no --systemd-cgroup) where systemd does not manage the host");
  }
  SystemdManager manager(lib, bus);
  // Through the system bus systemd sends job signals only to subscribers (directly, to all).
  MessageRef call{lib}, reply{lib};
  BusError error{lib};
  if (lib->sd_bus_message_new_method_call(bus, &call.m, kDestination, kObject, kManager, "Subscribe") >= 0)
    (void)lib->sd_bus_call(bus, call.m, kCallTimeoutUsec, &error.e, &reply.m);
  return manager;
}

SystemdManager::SystemdManager(SystemdManager&& other) noexcept : lib_(other.lib_), bus_(other.bus_) { other.bus_ = nullptr; }

SystemdManager::~SystemdManager() {
  if (bus_) lib_->sd_bus_flush_close_unref(bus_);
}

template <typename Build>
Result<void> SystemdManager::run_job(const char* method, const std::string& unit, Build&& build) {
  JobWatch watch{lib_, {}};
  sd_bus_slot* slot = nullptr;
  TRY(checked(lib_->sd_bus_match_signal(bus_, &slot, kDestination, kObject, kManager, "JobRemoved", on_job_removed, &watch),
              "watch systemd's jobs"));
  struct SlotRef {
    const SdBusLibrary* lib;
    sd_bus_slot* slot;
    ~SlotRef() { lib->sd_bus_slot_unref(slot); }
  } slot_ref{lib_, slot};
  MessageRef call{lib_}, reply{lib_};
  TRY(checked(lib_->sd_bus_message_new_method_call(bus_, &call.m, kDestination, kObject, kManager, method), "build a call"));
  TRY(checked(lib_->sd_bus_message_append_basic(call.m, 's', unit.c_str()), "build a call"));
  TRY(build(call.m));
  BusError error{lib_};
  int r = lib_->sd_bus_call(bus_, call.m, kCallTimeoutUsec, &error.e, &reply.m);
  if (r < 0) {
    if (std::string_view(method) == "StopUnit" && lib_->sd_bus_error_has_name(&error.e, "org.freedesktop.systemd1.NoSuchUnit"))
      return {};
    if (lib_->sd_bus_error_has_name(&error.e, "org.freedesktop.systemd1.UnitExists"))
      return hinted(fail(EEXIST, "systemd: {} {}: {}", method, unit, error.text()),
                    "another container uses this linux.cgroupsPath: give each its own name");
    return fail(-r, "systemd: {} {}: {}", method, unit, error.text());
  }
  const char* job = nullptr;
  TRY(checked(lib_->sd_bus_message_read(reply.m, "o", &job), "read the job of " + std::string(method)));
  return wait_job(*lib_, bus_, watch, job, method, unit);
}

Result<void> SystemdManager::start_transient_unit(const std::string& unit, const std::vector<UnitProperty>& properties) {
  return run_job("StartTransientUnit", unit, [&](sd_bus_message* m) -> Result<void> {
    TRY(checked(lib_->sd_bus_message_append_basic(m, 's', "fail"), "build a call"));
    TRY(append_properties(*lib_, m, properties));
    return checked(lib_->sd_bus_message_append(m, "a(sa(sv))", 0), "build a call");  // no auxiliary units
  });
}

Result<void> SystemdManager::stop_unit(const std::string& unit) {
  return run_job("StopUnit", unit, [&](sd_bus_message* m) {
    return checked(lib_->sd_bus_message_append_basic(m, 's', "replace"), "build a call");
  });
}

Result<void> SystemdManager::set_unit_properties(const std::string& unit, const std::vector<UnitProperty>& properties) {
  MessageRef call{lib_}, reply{lib_};
  TRY(checked(lib_->sd_bus_message_new_method_call(bus_, &call.m, kDestination, kObject, kManager, "SetUnitProperties"),
              "build a call"));
  int runtime = 1;  // until the unit goes: a scope has no unit file to persist into
  TRY(checked(lib_->sd_bus_message_append(call.m, "sb", unit.c_str(), runtime), "build a call"));
  TRY(append_properties(*lib_, call.m, properties));
  BusError error{lib_};
  int r = lib_->sd_bus_call(bus_, call.m, kCallTimeoutUsec, &error.e, &reply.m);
  if (r < 0) return fail(-r, "systemd: SetUnitProperties {}: {}", unit, error.text());
  return {};
}

}  // namespace vessel::runtime
