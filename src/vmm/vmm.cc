#include "vmm/vmm.h"

#include <algorithm>

#include <fcntl.h>
#include <poll.h>

#include "base/log.h"

namespace vessel::vmm {

using json::Json;
using Clock = std::chrono::steady_clock;

Result<std::unique_ptr<Vmm>> Vmm::create(VmConfig config, VmmOptions options) {
  std::unique_ptr<Vmm> vmm(new Vmm(std::move(config), std::move(options)));
  vmm->actions_ = TRY(ActionMailbox::create());
  vmm->console_ = TRY(ConsoleMailbox::create());
  vmm->signals_ = TRY(SignalMailbox::create());
  // For a migration's round 0 (which RAM was never touched); without it every page is read.
  if (auto pagemap = Fd::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC)) vmm->pagemap_ = std::move(*pagemap);
  return vmm;
}

Result<void> Vmm::start_instance() {
  if (machine_) return fail(EINVAL, "the instance is already started");
  auto m = TRY_CTX(Machine::create(config_, options_.machine), "start the VM");
  TRY(m->start([this](Machine& machine) {
    if (options_.on_started) options_.on_started(machine);
    if (options_.before_guest_runs) options_.before_guest_runs(machine);
  }));
  machine_ = std::move(m);
  return {};
}

Result<void> Vmm::load_snapshot(const std::string& state_path, const std::string& mem_path, bool resume,
                                bool enable_diff_snapshots, bool uffd) {
  if (machine_) return fail(EINVAL, "snapshot/load: the VM is already running (load a snapshot in a fresh vessel-vmm)");
  if (config_.boot_source)
    return fail(EINVAL, "snapshot/load: this vessel-vmm has a boot source already (load a snapshot in a fresh vessel-vmm)");
  auto m = TRY_CTX(Machine::restore(state_path, mem_path, options_.machine, enable_diff_snapshots, uffd), "snapshot/load");
  return adopt(std::move(m), resume);
}

Result<void> Vmm::adopt(std::unique_ptr<Machine> m, bool resume) {
  TRY(m->start(
      [this](Machine& machine) {
        if (options_.on_started) options_.on_started(machine);
        if (options_.before_guest_runs) options_.before_guest_runs(machine);
      },
      !resume));
  config_ = m->config();
  machine_ = std::move(m);
  return {};
}

Vmm::Ended Vmm::run() {
  for (;;) {
    pollfd fds[] = {{actions_->fd(), POLLIN, 0}, {console_->fd(), POLLIN, 0}, {signals_->fd(), POLLIN, 0},
                    {machine_ ? machine_->event_fd() : -1, POLLIN, 0},
                    {machine_ ? machine_->memory_watch_fd() : -1, POLLIN | POLLRDHUP, 0},
                    {machine_ ? machine_->watchdog_fd() : -1, POLLIN, 0}};
    if (::poll(fds, std::size(fds), poll_timeout_ms()) < 0 && errno != EINTR) log::warn("vmm: poll: {}", strerror(errno));
    if (fds[4].revents) machine_->memory_backend_lost(fds[4].revents);
    serve_mailboxes();
    if (machine_) machine_->check_watchdog();
    if (stop_signal_ && !machine_)
      return {VmEvent{VmEvent::Kind::Terminated, *stop_signal_, "stopped before start"}, false};
    if (machine_ && (fds[3].revents & POLLIN)) {
      if (auto event = machine_->take_event()) return {*event, true};
    }
    if (force_stop_at_ && Clock::now() >= *force_stop_at_) {
      force_stop_at_.reset();
      machine_->post_event({VmEvent::Kind::Terminated, *stop_signal_, fmt::format("stopped by signal {}", *stop_signal_)});
    }
  }
}

void Vmm::serve_until_closed() {
  while (!actions_->closed() || !console_->closed()) {
    pollfd fds[] = {{actions_->fd(), POLLIN, 0}, {console_->fd(), POLLIN, 0}};
    (void)::poll(fds, std::size(fds), -1);
    serve_mailboxes();
  }
}

void Vmm::serve_mailboxes() {
  actions_->serve([this](const VmmAction& a) { return handle(a); });
  console_->serve([this](const std::string& bytes) -> size_t {
    return machine_ ? machine_->serial().enqueue_input(bytes) : 0;
  });
  signals_->serve([this](int sig) { on_signal(sig); });
}

// Until the forced stop or the watchdog's deadline, whichever comes first.
int Vmm::poll_timeout_ms() const {
  std::optional<Clock::time_point> wake = force_stop_at_;
  if (auto deadline = machine_ ? machine_->watchdog_deadline() : std::nullopt)
    wake = wake ? std::min(*wake, *deadline) : *deadline;
  if (!wake) return -1;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*wake - Clock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(left + 1, 0, 60'000));
}

// SIGTERM/SIGINT/SIGHUP: Ctrl+Alt+Del, then a forced stop after the shutdown timeout.
void Vmm::on_signal(int sig) {
  if (stop_signal_) return;  // already stopping
  stop_signal_ = sig;
  if (!machine_) return;  // not started: nothing to shut down
  log::info("signal {}: stopping the VM (forced after {} s)", sig, options_.shutdown_timeout.count());
  machine_->begin_shutdown();  // a reboot now ends the VM, even with on_reboot: restart
  if (auto sent = machine_->send_ctrl_alt_del(); !sent)
    log::warn("signal {}: Ctrl+Alt+Del not delivered: {}", sig, sent.error().to_string());
  force_stop_at_ = Clock::now() + options_.shutdown_timeout;
}

VmmReply Vmm::handle(const VmmAction& action) {
  return std::visit([this](const auto& a) { return on(a); }, action);
}

Result<void> Vmm::before_start() const {
  if (machine_) return fail(EINVAL, "the VM is already running: this resource can only be set before InstanceStart");
  return {};
}

VmmReply Vmm::on(const action::GetInstanceInfo&) {
  std::string state = machine_ ? to_string(machine_->state()) : "Not started";
  return Json{{"id", "vessel-vmm"}, {"state", state}, {"vmm_version", kVmmVersion}, {"app_name", "vessel-vmm"}};
}

VmmReply Vmm::on(const action::GetMachineConfig&) {
  return to_json(config_.machine);
}

VmmReply Vmm::on(const action::SetMachineConfig& set) {
  TRY(before_start());
  if (set.vcpu_count) config_.machine.vcpu_count = *set.vcpu_count;
  if (set.mem_size_mib) config_.machine.mem_size_mib = *set.mem_size_mib;
  if (set.track_dirty_pages) config_.machine.track_dirty_pages = *set.track_dirty_pages;
  if (set.huge_pages) config_.machine.huge_pages = *set.huge_pages;
  if (set.ksm) config_.machine.ksm = *set.ksm;
  return std::nullopt;
}

VmmReply Vmm::on(const action::SetBootSource& set) {
  TRY(before_start());
  config_.boot_source = set.boot;
  return std::nullopt;
}

VmmReply Vmm::on(const action::PutDrive& put) {
  TRY(before_start());
  for (auto& existing : config_.drives) {
    if (existing.drive_id != put.drive.drive_id) continue;
    existing = put.drive;
    return std::nullopt;
  }
  if (config_.drives.size() >= 16) return fail(EINVAL, "at most 16 drives are supported");
  config_.drives.push_back(put.drive);
  return std::nullopt;
}

VmmReply Vmm::on(const action::EnableEntropy&) {
  TRY(before_start());
  config_.entropy = true;
  return std::nullopt;
}

VmmReply Vmm::on(const action::PutWatchdog& put) {
  TRY(before_start());
  config_.watchdog = put.watchdog;
  return std::nullopt;
}

VmmReply Vmm::on(const action::GetWatchdog&) {
  if (!config_.watchdog) return fail(EINVAL, "no watchdog configured: PUT /watchdog before InstanceStart");
  Json j = to_json(*config_.watchdog);
  if (machine_) {
    Json m = machine_->metrics();
    if (m.contains("watchdog")) j.update(m["watchdog"]);
  }
  return j;
}

VmmReply Vmm::on(const action::PutVsock& put) {
  TRY(before_start());
  config_.vsock = put.vsock;
  return std::nullopt;
}

VmmReply Vmm::on(const action::PatchDrive& patch) {
  auto it = std::find_if(config_.drives.begin(), config_.drives.end(),
                         [&](const DriveConfig& d) { return d.drive_id == patch.drive_id; });
  if (it == config_.drives.end()) return fail(EINVAL, "drive_id: no drive '{}'", patch.drive_id);
  if (patch.backing_files) {
    if (it->format != DriveFormat::Qcow2 && !patch.backing_files->empty())
      return fail(EINVAL, "drive.backing_files: only qcow2 drives have backing files");
    if (machine_) TRY(machine_->set_backing_files(patch.drive_id, *patch.backing_files));
    it->backing_files = *patch.backing_files;
  }
  if (!patch.rate_limiter) return std::nullopt;
  auto next = apply_patch(*patch.rate_limiter, it->rate_limiter);
  if (machine_) TRY(machine_->set_rate_limiter("drive/" + patch.drive_id, "rate_limiter", next));
  it->rate_limiter = next;
  return std::nullopt;
}

VmmReply Vmm::on(const action::PutNetworkInterface& put) {
  TRY(before_start());
  TRY(put_network_interface(config_.network_interfaces, put.net, "network-interface"));
  return std::nullopt;
}

VmmReply Vmm::on(const action::PatchNetworkInterface& patch) {
  auto it = std::find_if(config_.network_interfaces.begin(), config_.network_interfaces.end(),
                         [&](const NetworkInterfaceConfig& n) { return n.iface_id == patch.iface_id; });
  if (it == config_.network_interfaces.end()) return fail(EINVAL, "iface_id: no network interface '{}'", patch.iface_id);
  // Both are checked before either is applied: a bad body changes nothing.
  auto rx = patch.rx_rate_limiter ? apply_patch(*patch.rx_rate_limiter, it->rx_rate_limiter) : it->rx_rate_limiter;
  auto tx = patch.tx_rate_limiter ? apply_patch(*patch.tx_rate_limiter, it->tx_rate_limiter) : it->tx_rate_limiter;
  if (machine_) {
    if (patch.rx_rate_limiter) TRY(machine_->set_rate_limiter("net/" + patch.iface_id, "rx_rate_limiter", rx));
    if (patch.tx_rate_limiter) TRY(machine_->set_rate_limiter("net/" + patch.iface_id, "tx_rate_limiter", tx));
  }
  it->rx_rate_limiter = rx;
  it->tx_rate_limiter = tx;
  return std::nullopt;
}

VmmReply Vmm::on(const action::InstanceStart&) {
  TRY(start_instance());
  return std::nullopt;
}

VmmReply Vmm::on(const action::SendCtrlAltDel&) {
  if (!machine_) return fail(EINVAL, "SendCtrlAltDel: the VM is not running");
  TRY(machine_->send_ctrl_alt_del());
  return std::nullopt;
}

VmmReply Vmm::on(const action::FlushMetrics&) { return std::nullopt; }

VmmReply Vmm::on(const action::SetVmState& set) {
  if (!machine_) return fail(EINVAL, "the VM is not started");
  TRY(set.paused ? machine_->pause() : machine_->resume());
  return std::nullopt;
}

VmmReply Vmm::on(const action::GetVmConfig&) { return config_.to_json(); }

VmmReply Vmm::on(const action::CreateSnapshot& c) {
  if (!machine_) return fail(EINVAL, "snapshot/create: the VM is not started");
  TRY(machine_->snapshot(c.snapshot_path, c.mem_file_path, c.diff));
  return std::nullopt;
}

VmmReply Vmm::on(const action::LoadSnapshot& l) {
  TRY(load_snapshot(l.snapshot_path, l.mem_file_path, l.resume_vm, l.enable_diff_snapshots, l.uffd));
  return std::nullopt;
}

VmmReply Vmm::on(const action::GetMetrics&) {
  if (!machine_) return Json{{"state", "Not started"}};
  Json j = machine_->metrics();
  if (!migration_report_.is_null()) j["migration"] = migration_report_;
  return j;
}

}  // namespace vessel::vmm
