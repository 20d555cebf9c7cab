#include "vmm/machine.h"

#include "base/log.h"
#include "vmm/machine_impl.h"

namespace vessel::vmm {

Machine::Machine(VmConfig config, MachineOptions options)
    : config_(std::move(config)), options_(std::move(options)), com1_relay_(std::make_shared<RelayLine>()) {
  serial_ = std::make_shared<Serial>(com1_relay_, options_.console_fd);
}

Machine::~Machine() {
  if (impl_) stop_vcpus();
}

Result<std::unique_ptr<Machine>> Machine::create(const VmConfig& config, MachineOptions options) {
  TRY(validate_for_start(config));
  std::unique_ptr<Machine> machine(new Machine(config, std::move(options)));
  machine->impl_ = TRY(machine->build());
  return machine;
}

Result<void> Machine::start(const std::function<void(Machine&)>& before_guest_runs, bool paused) {
  if (impl_->state != State::Created) return fail(EINVAL, "the VM was already started");
  impl_->control.hold();
  if (paused) impl_->control.set_state(VcpuControl::State::Paused);
  for (auto& v : impl_->vcpus) v->start();
  if (impl_->profiler) {
    std::vector<pthread_t> threads;
    for (auto& v : impl_->vcpus) threads.push_back(v->native_handle());
    impl_->profiler->start(std::move(threads), VcpuRunner::kick_signal());
  }
  impl_->state = State::Running;
  if (impl_->watchdog && !paused) impl_->watchdog->resume();
  if (before_guest_runs) before_guest_runs(*this);
  impl_->control.release();
  if (paused) {
    impl_->control.wait_parked(impl_->vcpus.size());
    for (auto& d : impl_->virtio) TRY(d->pause());
    impl_->state = State::Paused;
  }
  return {};
}

Result<void> Machine::pause() {
  if (!impl_) return fail(EINVAL, "the VM is stopped");
  if (impl_->state == State::Paused) return {};
  if (impl_->state != State::Running) return fail(EINVAL, "cannot pause a VM that is {}", to_string(impl_->state));
  impl_->control.set_state(VcpuControl::State::Paused);
  impl_->control.wait_parked(impl_->vcpus.size());
  for (auto& d : impl_->virtio) TRY(d->pause());
  if (impl_->watchdog) impl_->watchdog->pause();
  impl_->state = State::Paused;
  return {};
}

Result<void> Machine::resume() {
  if (!impl_) return fail(EINVAL, "the VM is stopped");
  if (impl_->state == State::Running) return {};
  if (impl_->state != State::Paused) return fail(EINVAL, "cannot resume a VM that is {}", to_string(impl_->state));
  for (auto& d : impl_->virtio) TRY(d->resume());
  impl_->control.set_state(VcpuControl::State::Running);
  if (impl_->watchdog) impl_->watchdog->resume();
  impl_->state = State::Running;
  return {};
}

Result<void> Machine::send_ctrl_alt_del() {
  if (!impl_) return fail(EINVAL, "SendCtrlAltDel: the VM is stopped");
  if (impl_->state != State::Running && impl_->state != State::Paused)
    return fail(EINVAL, "SendCtrlAltDel: the VM is {}", to_string(impl_->state));
  return impl_->i8042->send_ctrl_alt_del();
}

void Machine::post_event(VmEvent event) {
  if (impl_) impl_->events->post(std::move(event));
}

int Machine::event_fd() const { return impl_ ? impl_->events->fd() : -1; }

std::optional<VmEvent> Machine::take_event() {
  if (!impl_) return std::nullopt;
  impl_->events->serve([this](VmEvent& e) {
    if (!impl_->event) impl_->event = std::move(e);
  });
  if (!impl_->event) return std::nullopt;
  VmEvent event = *impl_->event;
  stop_vcpus();
  // A panicking kernel with panic=-1 reboots at once (with panic=0 it hangs until its watchdog
  // runs out): report the panic, not what followed.
  if (event.kind == VmEvent::Kind::Reboot || event.kind == VmEvent::Kind::Poweroff ||
      event.kind == VmEvent::Kind::Watchdog) {
    if (auto panic = serial_->panic_message()) event = {VmEvent::Kind::Panic, 3, *panic};
  }
  // A watchdog whose action is reset resets the machine, as a guest reboot does.
  bool reboots = event.kind == VmEvent::Kind::Reboot ||
                 (event.kind == VmEvent::Kind::Watchdog && config_.watchdog &&
                  config_.watchdog->action == WatchdogAction::Reset);
  if (!reboots || config_.on_reboot != OnReboot::Restart || stopping_) return event;
  if (auto r = restart(); !r)  // impl_ is gone: every call now answers "stopped"
    return VmEvent{VmEvent::Kind::Error, 2, fmt::format("restart after the guest rebooted: {}", r.error().to_string())};
  return std::nullopt;
}

Result<void> Machine::restart() {
  log::info("guest rebooted ({}): restarting the VM", impl_->event ? impl_->event->reason : "");
  impl_.reset();  // vCPUs were joined by take_event; devices flush and stop, KVM frees the VM
  impl_ = TRY(build());
  TRY(start());
  ++reboots_;
  return {};
}

void Machine::begin_shutdown() { stopping_ = true; }

void Machine::stop_vcpus() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  if (impl_->profiler) impl_->profiler->stop();
  impl_->control.set_state(VcpuControl::State::Stopping);
  if (impl_->watchdog) impl_->watchdog->pause();  // a stopped VM's watchdog never runs out
  for (auto& v : impl_->vcpus) v->join();
  if (impl_->profiler) {
    if (auto w = impl_->profiler->write(); !w)
      log::warn("guest profile: {}", w.error().to_string());
    else
      log::info("guest profile: {} samples written", impl_->profiler->samples());
  }
  for (auto& d : impl_->virtio) {
    (void)d->pause();  // quiesce device threads before teardown
    if (auto r = d->sync(); !r) log::error("{}", r.error().to_string());
  }
  impl_->state = State::Stopped;
}

Machine::State Machine::state() const {
  if (!impl_) return State::Stopped;  // a restart failed
  return impl_->state;
}

int Machine::exit_code(const VmEvent& e) {
  switch (e.kind) {
    case VmEvent::Kind::Poweroff:
    case VmEvent::Kind::Reboot: return 0;
    case VmEvent::Kind::DebugExit: return e.code;
    case VmEvent::Kind::Panic: return 3;
    case VmEvent::Kind::Error: return 2;
    case VmEvent::Kind::Terminated: return 128 + e.code;
    case VmEvent::Kind::Migrated: return 0;
    case VmEvent::Kind::Watchdog: return 4;
  }
  return 2;
}

Result<void> Machine::set_rate_limiter(const std::string& device, std::string_view which,
                                       const std::optional<RateLimiterConfig>& config) {
  if (!impl_) return fail(EINVAL, "the VM is not built");
  auto it = impl_->virtio_by_id.find(device);
  if (it == impl_->virtio_by_id.end()) return fail(ENOENT, "no device {}", device);
  TRY(it->second->set_rate_limiter(which, config));
  // Kept for a restart, which builds the devices from the configuration again.
  std::string_view id = std::string_view(device).substr(device.find('/') + 1);
  for (auto* list : {&config_, &impl_->config}) {
    for (auto& d : list->drives)
      if (device.starts_with("drive/") && d.drive_id == id) d.rate_limiter = config;
    for (auto& n : list->network_interfaces)
      if (device.starts_with("net/") && n.iface_id == id)
        (which == "rx_rate_limiter" ? n.rx_rate_limiter : n.tx_rate_limiter) = config;
  }
  return {};
}

json::Json Machine::metrics() const {
  std::string st = to_string(state());
  if (!impl_) return json::Json{{"state", st}, {"reboots", reboots_}};
  const auto& s = impl_->stats;
  json::Json j = {
      {"state", st},
      {"reboots", reboots_},
      {"vcpu", {{"count", impl_->vcpus.size()}, {"exits", s.exits.load()}, {"io", s.io.load()},
                {"mmio", s.mmio.load()}, {"unhandled_io", s.unhandled_io.load()},
                {"unhandled_mmio", s.unhandled_mmio.load()}, {"internal_errors", s.internal_errors.load()},
                {"stale_instruction_retries", s.stale_instruction_retries.load()},
                {"unclaimed", s.unclaimed()}}},
      {"emulation", impl_->emulation.to_json()},
      {"pvm_syscall_repair", {{"syscalls", impl_->syscall_repair.syscalls.load()},
                              {"page_faults", impl_->syscall_repair.page_faults.load()},
                              {"arms", impl_->syscall_repair.arms.load()}}},
      {"serial", {{"bytes_written", serial_->bytes_written()}}},
  };
  json::Json devices = json::Json::array();
  for (const auto& d : impl_->virtio) devices.push_back(d->metrics());
  j["devices"] = devices;
  j["memory"] = memory_metrics();
  if (impl_->watchdog) {
    j["watchdog"] = impl_->watchdog->metrics();
    j["watchdog"]["expirations"] = watchdog_expirations_;  // this incarnation's and the ones before
    j["watchdog"]["action"] = to_string(config_.watchdog->action);
  }
  return j;
}

const char* to_string(Machine::State state) {
  switch (state) {
    case Machine::State::Created: return "Not started";
    case Machine::State::Running: return "Running";
    case Machine::State::Paused: return "Paused";
    case Machine::State::Stopped: return "Stopped";
  }
  return "unknown";
}

}  // namespace vessel::vmm
