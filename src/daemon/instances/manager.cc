#include "daemon/instances/manager.h"
#include "daemon/instances/vm_balloon.h"

#include <sys/stat.h>

#include <filesystem>

#include "base/log.h"
#include "daemon/images/image_store.h"
#include "daemon/instances/oom_note.h"
#include "daemon/instances/vm_backend.h"
#include "daemon/policy/cgroups.h"

namespace vessel::daemon {

Manager::Manager(ManagerConfig config, Store& store, EventBus& events, ImageStore& images, Backend& containers,
                 Backend& vms, Networks* networks)
    : config_(std::move(config)), store_(store), events_(events), images_(images), containers_(containers), vms_(vms),
      networks_(networks) {
  std::error_code ec;
  std::filesystem::create_directories(config_.state_dir + "/instances", ec);
  remove_stale_imports();
  monitor_ = std::make_unique<ExitMonitor>([this](const std::string& name) { return on_exit(name); });
  restarts_ = std::make_unique<RestartSupervisor>(store_, events_, [this](const std::string& name, bool stop_first) {
    ActOptions by_policy;
    by_policy.by_policy = true;
    return act(name, stop_first ? Action::Restart : Action::Start, by_policy).map([](auto&&) {});
  });
  health_ = std::make_unique<HealthChecker>(
      events_,
      [this](const std::string& name, const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
        return probe_health(name, argv, timeout);
      },
      [this](const std::string& name) {
        if (auto loaded = load(name)) restarts_->ended(name, loaded->second.restart, EndFacts{EndCause::Unhealthy, {}, 0});
      });
}

Manager::~Manager() {
  health_.reset();
  restarts_.reset();  // no restart may begin while the rest goes
  monitor_.reset();
}

std::string Manager::cgroup_of(const std::string& name) const {
  if (pools_)  // a pool member's cgroup is below its pool's
    if (auto row = store_.get_instance(name); row && *row)
      if (auto spec = parse_spec_text((*row)->spec); spec)
        if (auto cgroup = pools_->member_cgroup(*spec)) return *cgroup;
  return cgroup_path(config_.cgroup_parent, name);
}

std::shared_ptr<Manager::Entry> Manager::entry(const std::string& name) {
  std::lock_guard lock(entries_mutex_);
  auto& e = entries_[name];
  if (!e) e = std::make_shared<Entry>();
  return e;
}

Result<std::pair<InstanceRow, InstanceSpec>> Manager::load(const std::string& name) {
  TRY(validate_name(name));
  auto row = TRY(store_.get_instance(name));
  if (!row) return Unexpected(Error(ENOENT, fmt::format("no instance named {}", name)).with_hint("see `vessel ls`"));
  auto spec = TRY_CTX(parse_spec_text(row->spec), "stored spec of {}", name);
  return std::make_pair(std::move(*row), std::move(spec));
}

json::Json Manager::describe(const InstanceRow& row) {
  json::Json j = json::parse(row.spec).value_or(json::Json::object());
  j["state"] = row.state;
  j["pid"] = row.pid;
  j["created_at"] = row.created_at;
  j["updated_at"] = row.updated_at;
  j["exit_code"] = row.exit_code ? json::Json(*row.exit_code) : json::Json(nullptr);
  j["exit_reason"] = row.exit_reason;
  j["oom_killed"] = row.oom_killed;
  j["started_at"] = row.started_at;
  j["finished_at"] = row.finished_at;
  if (networks_)
    if (auto address = networks_->address_of(row.name); !address.empty()) j["ip_address"] = address;
  j.update(restarts_->describe(row.name));
  j.update(health_->describe(row.name));
  if (auto range = store_.id_range(row.name); range && *range)
    j["userns_range"] = {{"uid", (*range)->uid}, {"gid", (*range)->gid}, {"count", (*range)->count}};
  return j;
}

Result<void> Manager::allocate_userns(const InstanceSpec& spec) {
  if (spec.security.userns != UsernsMode::Auto) return {};
  const IdPool pool = *config_.userns_pool;  // checked by create_instance
  auto pick = [&](const std::vector<IdRange>& taken) { return pick_id_range(pool, taken, kUsernsSize); };
  IdRange range = TRY_CTX(store_.allocate_id_range(spec.name, pick), "--userns=auto for {}", spec.name);
  log::info("{}: user namespace on host uids {}..{}, gids {}..{}", spec.name, range.uid, range.uid + range.count - 1,
            range.gid, range.gid + range.count - 1);
  return {};
}

Result<std::optional<IdRange>> Manager::userns_of(const InstanceSpec& spec) {
  if (spec.security.userns != UsernsMode::Auto) return std::optional<IdRange>();
  auto range = TRY(store_.id_range(spec.name));
  if (!range) return fail(ENOENT, "{} has --userns=auto but holds no id range", spec.name);
  return range;
}

Result<void> Manager::set_state(const std::string& name, State state, const GuestProcess* proc, const char* why,
                               const json::Json& extra) {
  TRY(store_.update_instance_state(name, std::string(to_string(state)), proc ? proc->pid : 0, proc ? proc->start_time : 0));
  json::Json event = {{"type", "instance-state"}, {"name", name}, {"state", std::string(to_string(state))}, {"reason", why}};
  if (extra.is_object()) event.update(extra);
  events_.publish(std::move(event));
  if (pools_) pools_->changed(name);
  return {};
}

Result<void> Manager::record_stopped(const std::string& name, const ExitInfo& ended, const char* why) {
  ExitInfo exit = ended;
  exit.oom_killed = exit.oom_killed || oom_noted(dir_of(name));  // noted by the backend's cleanup()
  // The exit first: whoever sees "stopped" also sees how it ended.
  TRY(store_.set_instance_exit(name, exit.code, exit.reason, exit.oom_killed));
  health_->unwatch(name);
  return set_state(name, State::Stopped, nullptr, why, exit.to_json());
}

Result<BootSource> Manager::boot_source(const InstanceSpec& spec, const std::string& dir) {
  auto boot = TRY(images_.resolve(spec));
  if (spec.type == InstanceType::Vm) boot.disks = TRY(prepare_instance_disks(spec, boot.base_disks, dir));
  return boot;
}

Result<InstanceSpec> Manager::resolve_network(const InstanceSpec& requested) {
  InstanceSpec spec = requested;
  if (spec.type == InstanceType::Vm) {
    // VMs join a network when asked, or when they publish ports (-p alone means the default
    // network, as Docker's -p needs no --network): a tap on its bridge, docs/daemon/networks.md.
    if (spec.network == kNetworkHost)
      return Unexpected(Error(EINVAL, "a VM cannot share the host's network").with_hint("pass --network NAME or none"));
    bool wants_default = spec.network.empty() && !spec.ports.empty();
    if ((spec.network.empty() && !wants_default) || spec.network == kNetworkNone) {
      if (!spec.ports.empty()) return Unexpected(Error(EINVAL, "-p: a VM publishes ports only on a network").with_hint("pass --network NAME"));
      return spec;
    }
    if (!networks_) return fail(ENOTSUP, "this vesseld has no networks");
    spec.network = TRY(networks_->resolve(spec.network));
    if (spec.network == kNetworkNone)
      return Unexpected(Error(EINVAL, "-p: a VM publishes ports only on a network, and this vesseld has no default network")
                            .with_hint("pass --network NAME"));
    return spec;
  }
  if (!networks_) {
    if (!spec.network.empty() && spec.network != kNetworkNone) return fail(ENOTSUP, "this vesseld has no networks");
    return spec;
  }
  spec.network = TRY(networks_->resolve(spec.network));
  if (!spec.ports.empty() && (spec.network == kNetworkNone || spec.network == kNetworkHost))
    return fail(EINVAL, "--network {} has no ports to publish (-p)", spec.network);
  return spec;
}

Result<void> Manager::write_etc_files(InstanceContext& ctx, const Attachment& attached) {
  for (auto [dest, text] : {std::pair{"/etc/resolv.conf", &attached.resolv_conf}, std::pair{"/etc/hosts", &attached.hosts}}) {
    if (text->empty()) continue;
    std::string path = ctx.dir + "/" + std::string(dest).substr(5);
    TRY(write_file(path, *text));
    ::chmod(path.c_str(), 0644);  // read by the container's root, an unprivileged uid with --userns=auto
    ctx.etc_files.emplace_back(dest, path);
  }
  return {};
}

void Manager::release(const InstanceContext& ctx) {
  backend_for(ctx.spec).cleanup(ctx);
  if (networks_) networks_->detach(ctx.spec);
}

Result<json::Json> Manager::create(const InstanceSpec& requested) {
  auto spec = TRY(spec_to_create(requested));
  TRY(create_instance(spec));
  return get(spec.name);
}

Result<json::Json> Manager::run_instance(const InstanceSpec& requested) {
  auto spec = TRY(spec_to_create(requested));
  auto boot = TRY(create_instance(spec));
  return act(spec.name, Action::Start, {}, &boot);
}

Result<BootSource> Manager::create_instance(const InstanceSpec& spec) {
  std::lock_guard lock(create_mutex_);
  // Resolve the image first: a create that names a missing image fails before anything is written.
  auto boot = TRY(images_.resolve(spec));
  if (spec.security.userns == UsernsMode::Auto && !config_.userns_pool)
    return Unexpected(Error(EINVAL, "--userns=auto: vesseld has no pool of ids to give out")
                          .with_hint("start vesseld with --userns-pool START:COUNT, or add a 'vessel' entry to "
                                     "/etc/subuid and /etc/subgid (docs/daemon/userns.md)"));
  auto existing = TRY(reservations(spec.name));
  TRY_CTX(admit(config_.capacity, config_.overcommit, existing, {spec.cpu_reservation, spec.memory_reservation_mib}),
          "admission of {}", spec.name);
  TRY(admit_to_pool(spec));
  TRY(resolve_mounts(spec, volumes_));  // a missing bind source fails the create; named volumes appear now
  InstanceRow row{spec.name, std::string(to_string(spec.type)), to_json(spec).dump(), std::string(to_string(State::Created))};
  TRY(store_.insert_instance(row));
  if (auto allocated = allocate_userns(spec); !allocated) {
    (void)store_.delete_instance(spec.name);
    return Unexpected(std::move(allocated).error());
  }
  if (networks_)
    if (auto address = networks_->allocate(spec); !address) {
      (void)store_.delete_instance(spec.name);  // frees the id range too
      return Unexpected(std::move(address).error());
    }
  std::string dir = dir_of(spec.name);
  if (::mkdir(dir.c_str(), 0700) < 0 && errno != EEXIST) {
    auto e = fail_errno("mkdir {}", dir);
    (void)store_.delete_instance(spec.name);
    return e;
  }
  if (spec.type == InstanceType::Vm) {
    // Overlays and new disks now, so that a full disk or a bad base fails the create.
    auto disks = prepare_instance_disks(spec, boot.base_disks, dir);
    if (!disks) {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
      (void)store_.delete_instance(spec.name);
      return Unexpected(std::move(disks).error());
    }
    boot.disks = std::move(*disks);
  }
  events_.publish({{"type", "instance-created"}, {"name", spec.name}, {"state", "created"}, {"instance_type", row.type}});
  return boot;
}

Result<void> Manager::start_locked(Entry& e, const InstanceRow& row, const InstanceSpec& spec,
                                   const BootSource* resolved, bool restoring) {
  TRY_CTX(backend_for(spec).preflight(), "start {}", row.name);
  // What is launched: the spec at the CPU weight admission gave it (its pool's, until the pool's
  // plan is applied once it runs).
  InstanceSpec launched = spec;
  launched.cpu_weight = TRY(admit_start(row.name, spec, restoring));
  struct Started {  // the reservation moves from `starting_` to the running row (or is given back)
    Manager* m;
    const std::string& name;
    ~Started() { m->end_start(name); }
  } started_guard{this, row.name};
  BootSource boot = resolved ? *resolved : TRY_CTX(boot_source(spec, dir_of(row.name)), "start {}", row.name);
  auto userns = TRY_CTX(userns_of(spec), "start {}", row.name);
  InstanceContext ctx{launched, dir_of(row.name), dir_of(row.name) + "/console.log", cgroup_of(row.name),
                      spec.log.value_or(config_.log), userns};
  auto told = TRY_CTX(tell_start(row.name, spec, ctx.cgroup), "start {}", row.name);  // before any process
  ::unlink((ctx.dir + "/" + kExitFile).c_str());  // the VMM's or the shim's, of the last run
  forget_oom_note(ctx.dir);
  ctx.mounts = TRY_CTX(resolve_mounts(spec, volumes_), "start {}", row.name);
  if (networks_) {
    auto attached = TRY_CTX(networks_->attach(spec), "start {}", row.name);
    ctx.netns = attached.netns;
    ctx.nic = attached.vm;
    auto written = write_etc_files(ctx, attached);
    if (!written) {
      networks_->detach(spec);
      return Unexpected(std::move(written).error().add_context(fmt::format("start {}", row.name)));
    }
  }
  auto started = restoring ? backend_for(spec).restore_saved(ctx, boot) : backend_for(spec).start(ctx, boot);
  if (!started) {
    if (networks_) networks_->detach(spec);
    return Unexpected(std::move(started).error().add_context(fmt::format("start {}", row.name)));
  }
  auto proc = std::move(*started);
  test_hook_die_at("after-launch", row.name);  // VESSEL_TEST_DIE_AT (start_guard.h)
  // Health is watched before "running" shows: whoever sees it running sees its health (starting).
  auto check = healthcheck_of(spec, &boot);
  if (check) health_->watch(row.name, *check);
  // The last run's exit is forgotten only now: a start takes seconds, and meanwhile the instance is
  // still stopped the way it last ended (a restart policy's next start too).
  auto committed = store_.clear_instance_exit(row.name);
  if (committed) committed = set_state(row.name, State::Running, &proc, restoring ? "resume" : "start");
  if (!committed) {
    if (check) health_->unwatch(row.name);
    // Nothing acknowledged may be lost, nothing unacknowledged may keep running.
    (void)backend_for(spec).stop(ctx, proc, std::chrono::seconds(0));
    if (networks_) networks_->detach(spec);
    return Unexpected(std::move(committed).error());
  }
  monitor_->watch(row.name, proc.pidfd.get());
  e.process = std::move(proc);
  return {};
}

Result<void> Manager::stop_locked(Entry& e, const InstanceRow& row, const InstanceSpec& spec, std::chrono::seconds timeout) {
  InstanceContext ctx{spec, dir_of(row.name), dir_of(row.name) + "/console.log", cgroup_of(row.name)};
  if (e.process && e.process->alive()) {
    if (row.state == to_string(State::Paused)) (void)backend_for(spec).resume(ctx, *e.process);
    if (pools_) pools_->stopping(row.name, spec);
    TRY_CTX(backend_for(spec).stop(ctx, *e.process, timeout), "stop {}", row.name);
    if (networks_) networks_->detach(spec);
  } else {
    if (e.process) e.process->wait_exit(std::chrono::milliseconds(0));  // reap: keeps its status
    release(ctx);
  }
  monitor_->unwatch(row.name);
  ExitInfo exit = backend_for(spec).exit_info(ctx, e.process ? &*e.process : nullptr);
  e.process.reset();
  TRY(record_stopped(row.name, exit, "stop"));
  return {};
}

Result<json::Json> Manager::act(const std::string& name, Action action, const ActOptions& options) {
  auto done = act(name, action, options, nullptr);
  if (done) remove_if_auto(name);  // --rm: a stop removes it
  return done;
}

Result<json::Json> Manager::act(const std::string& name, Action action, const ActOptions& options,
                                const BootSource* resolved) {
  auto e = entry(name);
  std::lock_guard lock(e->mutex);
  auto [row, spec] = TRY(load(name));
  if (action == Action::Restore && !options.import_path.empty()) TRY(import_locked(row, spec, options.import_path));
  State from = parse_state(row.state).value_or(State::Stopped);
  // Stop is idempotent, as Docker's: an instance with nothing running answers its state. A user's
  // stop also cancels a restart the policy scheduled (the instance is stopped meanwhile).
  if (action == Action::Stop && (from == State::Stopped || from == State::Created)) {
    restarts_->user_stopped(name);
    return describe(row);
  }
  if (action == Action::Stop) restarts_->user_stopped(name);
  TRY(transition(from, action, options.force));
  if (options.by_policy && !restarts_->claim(name, spec.restart)) return fail(ECANCELED, "{}: restart no longer wanted", name);
  if (!options.by_policy && (action == Action::Start || action == Action::Restart)) restarts_->user_started(name);
  InstanceContext ctx{spec, dir_of(name), dir_of(name) + "/console.log", cgroup_of(name)};
  auto timeout = std::chrono::seconds(options.timeout_s.value_or(spec.stop_timeout_s));
  switch (action) {
    case Action::Start:
      TRY(start_locked(*e, row, spec, resolved));
      break;
    case Action::Stop:
      if (is_saved(from)) TRY(discard_saved_locked(row, spec));
      else TRY(stop_locked(*e, row, spec, timeout));
      break;
    case Action::Suspend:
    case Action::Checkpoint:
      TRY(save_locked(*e, row, spec, action, options));
      break;
    case Action::Restore:
      TRY(restore_locked(*e, row, spec));
      break;
    case Action::Restart:
      if (is_saved(from)) {
        TRY(discard_saved_locked(row, spec));
        row.state = to_string(State::Stopped);
      }
      if (has_process(from)) {
        TRY(stop_locked(*e, row, spec, timeout));
        row.state = to_string(State::Stopped);
      }
      TRY(start_locked(*e, row, spec, nullptr));
      break;
    case Action::Pause:
      if (!e->process) return fail(ESRCH, "instance {} has no process", name);
      TRY_CTX(backend_for(spec).pause(ctx, *e->process), "pause {}", name);
      TRY(set_state(name, State::Paused, &*e->process, "pause"));
      break;
    case Action::Resume:
      if (is_saved(from)) {
        TRY(restore_locked(*e, row, spec));
        break;
      }
      if (!e->process) return fail(ESRCH, "instance {} has no process", name);
      TRY_CTX(backend_for(spec).resume(ctx, *e->process), "resume {}", name);
      TRY(set_state(name, State::Running, &*e->process, "resume"));
      break;
    case Action::Delete:
      return fail(EINVAL, "use remove() to delete");
  }
  auto now = TRY(store_.get_instance(name));
  if (!now) return fail(ENOENT, "no instance named {}", name);
  return describe(*now);
}

Result<void> Manager::remove(const std::string& name, bool force) {
  auto e = entry(name);
  {
    std::lock_guard lock(e->mutex);
    auto [row, spec] = TRY(load(name));
    State from = parse_state(row.state).value_or(State::Stopped);
    TRY(transition(from, Action::Delete, force));
    if (has_process(from) || e->process) TRY(stop_locked(*e, row, spec, std::chrono::seconds(0)));  // also incoming
    InstanceContext ctx{spec, dir_of(name), dir_of(name) + "/console.log", cgroup_of(name)};
    release(ctx);
    if (is_saved(from)) backend_for(spec).discard_saved(ctx);
    TRY(store_.delete_instance(name));  // frees its address (and id range)
    std::error_code ec;
    std::filesystem::remove_all(dir_of(name), ec);
    if (ec) log::warn("cannot remove {}: {}", dir_of(name), ec.message());
    restarts_->forget(name);
    forget_removal_holds(name);
    health_->unwatch(name);
    events_.publish({{"type", "instance-deleted"}, {"name", name}});
  }
  std::lock_guard lock(entries_mutex_);
  entries_.erase(name);
  return {};
}

Result<json::Json> Manager::get(const std::string& name) {
  TRY(validate_name(name));
  auto row = TRY(store_.get_instance(name));
  if (!row) return Unexpected(Error(ENOENT, fmt::format("no instance named {}", name)).with_hint("see `vessel ls`"));
  json::Json j = describe(*row);
  // A running VM's balloon, as it is now (docs/daemon/pools.md): target, actual, the guest's figures.
  bool live = row->state == to_string(State::Running) || row->state == to_string(State::Paused);
  if (live && j.contains("balloon") && j.value("type", "") == "vm")
    if (auto b = read_balloon(dir_of(name))) j["balloon"].update(to_json(*b));
  return j;
}

Result<json::Json> Manager::list() {
  json::Json out = json::Json::array();
  for (const auto& row : TRY(store_.list_instances())) out.push_back(describe(row));
  return out;
}

Result<ExecResult> Manager::exec(const std::string& name, const std::vector<std::string>& argv,
                                 std::chrono::milliseconds timeout) {
  if (argv.empty()) return fail(EINVAL, "exec: no command");
  auto e = entry(name);
  std::lock_guard thawed(e->export_freeze);  // an export's freeze waits, or is waited for
  auto [row, spec] = TRY(load(name));
  if (row.state != to_string(State::Running))
    return Unexpected(Error(EBUSY, fmt::format("cannot exec: instance is {}", row.state)).with_hint("start it first"));
  InstanceContext ctx{spec, dir_of(name), dir_of(name) + "/console.log", cgroup_of(name)};
  ctx.exec_timeout = timeout;
  return backend_for(spec).exec(ctx, argv);
}

Result<ExecSession> Manager::exec_session(const std::string& name, const ExecOptions& options) {
  auto e = entry(name);
  std::lock_guard thawed(e->export_freeze);  // until it has started: an export's freeze waits
  auto [row, spec] = TRY(load(name));
  if (row.state != to_string(State::Running))
    return Unexpected(Error(EBUSY, fmt::format("cannot exec: instance is {}", row.state)).with_hint("start it first"));
  // VMs too: through the guest's vessel-agent (VmBackend::exec_session).
  InstanceContext ctx{spec, dir_of(name), dir_of(name) + "/console.log", cgroup_of(name)};
  return backend_for(spec).exec_session(ctx, options);
}

Result<json::Json> Manager::stats(const std::string& name) {
  auto [row, spec] = TRY(load(name));
  auto s = cgroup_stats(cgroup_of(name));
  json::Json out{{"name", name},   {"state", row.state},        {"cpu_ns", s.cpu_ns},
                 {"memory_bytes", s.memory_bytes}, {"memory_limit_bytes", spec.memory_mib << 20},
                 {"cpus", spec.cpus}, {"pid", row.pid}};
  if (row.state == to_string(State::Running) || row.state == to_string(State::Paused)) {
    InstanceContext ctx{spec, dir_of(name), dir_of(name) + "/console.log", cgroup_of(name)};
    out.update(backend_for(spec).extra_stats(ctx, row.pid));
  }
  return out;
}

Result<void> Manager::with_files(const std::string& name, const FilesFn& fn) {
  auto e = entry(name);
  std::lock_guard lock(e->mutex);
  auto [row, spec] = TRY(load(name));
  if (spec.type == InstanceType::Vm) return fail(ENOTSUP, "{} is a VM: its files are reached through its agent", name);
  bool running = row.state == to_string(State::Running) || row.state == to_string(State::Paused);
  auto userns = TRY(userns_of(spec));
  InstanceContext ctx{spec, dir_of(name), dir_of(name) + "/console.log", cgroup_of(name),
                      spec.log.value_or(config_.log), userns};
  BootSource boot;
  if (!running) boot = TRY_CTX(boot_source(spec, ctx.dir), "copy files of {}", name);
  auto root = TRY(backend_for(spec).mount_files(ctx, boot, running));
  auto result = fn(root, userns);
  backend_for(spec).release_files(ctx, running);
  return result;
}

Result<bool> Manager::is_vm(const std::string& name) {
  auto [row, spec] = TRY(load(name));
  return spec.type == InstanceType::Vm;
}

Result<std::string> Manager::agent_socket(const std::string& name) {
  auto [row, spec] = TRY(load(name));
  if (spec.type != InstanceType::Vm) return fail(EINVAL, "{} is not a VM", name);
  if (row.state != to_string(State::Running))
    return Unexpected(Error(EBUSY, fmt::format("cannot copy files of VM {}: it is {}", name, row.state))
                          .with_hint("its vessel-agent does the copy: start it first"));
  // The run directory belongs to the VM's uid: connect to a socket, never through a link it planted.
  std::string path = vm_vsock_socket(dir_of(name));
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return fail_errno("{}", path);
  if (!S_ISSOCK(st.st_mode)) return fail(EPERM, "{} is not a socket", path);
  return path;
}

Result<std::string> Manager::log_path(const std::string& name) {
  TRY(load(name));
  return dir_of(name) + "/console.log";
}

bool Manager::active(const std::string& name) {
  auto row = store_.get_instance(name);
  if (!row || !*row) return false;
  auto s = parse_state((*row)->state);
  return s && has_process(*s);
}

bool Manager::on_exit(const std::string& name) {
  auto e = entry(name);
  std::unique_lock lock(e->mutex, std::try_to_lock);
  if (!lock.owns_lock()) return false;  // an operation is under way; it sees the exit itself
  if (!e->process || e->process->alive()) return true;
  auto loaded = load(name);
  if (!loaded) return true;
  auto& [row, spec] = *loaded;
  InstanceContext ctx{spec, dir_of(name), dir_of(name) + "/console.log", cgroup_of(name)};
  e->process->wait_exit(std::chrono::milliseconds(0));  // reap vessel-vmm if it is our child
  release(ctx);
  ExitInfo exit = backend_for(spec).exit_info(ctx, &*e->process);
  uint64_t ran_ms = ran_ms_since(e->process->start_time);
  e->process.reset();
  auto r = record_stopped(name, exit, "exited");
  // A hung guest caught by its watchdog (docs/vmm/watchdog.md): said on its own, before any restart.
  if (r && exit.reason == "watchdog")
    events_.publish({{"type", "instance-watchdog"}, {"name", name}, {"detail", exit.detail}});
  if (r) restarts_->ended(name, spec.restart, EndFacts{EndCause::Exited, exit.code, ran_ms});
  if (!r) log::error("cannot record that {} exited: {}", name, r.error().to_string());
  else log::info("instance {} exited: {} (status {})", name, exit.reason, exit.code ? std::to_string(*exit.code) : "unknown");
  lock.unlock();
  remove_if_auto(name);  // --rm
  return true;
}

void Manager::reconcile() {
  auto rows = store_.list_instances();
  if (!rows) {
    log::error("reconcile: {}", rows.error().to_string());
    return;
  }
  for (const auto& row : *rows) {
    auto state = parse_state(row.state);
    if (state == State::Incoming)
      if (auto spec = parse_spec_text(row.spec)) reconcile_incoming(row, *spec);  // migrate.cc
    if (!state || !has_process(*state)) continue;
    auto spec = parse_spec_text(row.spec);
    if (!spec) continue;
    auto e = entry(row.name);
    std::lock_guard lock(e->mutex);
    InstanceContext ctx{*spec, dir_of(row.name), dir_of(row.name) + "/console.log", cgroup_of(row.name)};
    auto proc = GuestProcess::adopt(static_cast<pid_t>(row.pid), row.pid_start);
    if (proc) {
      auto actual = backend_for(*spec).probe(ctx, *proc);
      if (actual) {
        if (*actual != *state) (void)set_state(row.name, *actual, &*proc, "reconcile");
        monitor_->watch(row.name, proc->pidfd.get());
        if (networks_) networks_->adopt(*spec);
        e->process = std::move(*proc);
        if (auto check = healthcheck_of(*spec, nullptr)) health_->watch(row.name, *check);
        log::info("adopted {} {} (pid {})", row.type, row.name, row.pid);
        events_.publish({{"type", "instance-adopted"}, {"name", row.name}, {"state", std::string(to_string(*actual))}});
        continue;
      }
      log::warn("{}: process {} is alive but its backend does not know it: {}", row.name, row.pid, actual.error().to_string());
    }
    backend_for(*spec).cleanup(ctx);
    // No wait for the exit file: it is there if its writer lived to write it, and waiting for each
    // of many guests that died with the host (3 s each, one after another) kept vesseld silent.
    (void)record_stopped(row.name, backend_for(*spec).exit_info(ctx, nullptr, std::chrono::milliseconds(0)),
                         "gone while vesseld was down");
    log::info("{} stopped while vesseld was down", row.name);
  }
  // Stale veths and netns of instances not running go; the nftables table is rebuilt.
  if (networks_) networks_->finish_reconcile();
  // Then restart policies: `always` instances and restarts that were due come back (restart.md).
  if (auto now = store_.list_instances())
    for (const auto& row : *now)
      if (auto spec = parse_spec_text(row.spec); spec && row.state == to_string(State::Stopped))
        restarts_->daemon_started(row.name, spec->restart, row.exit_code);
  remove_stopped_auto_removed();  // --rm instances that ended while vesseld was down
}

std::optional<HealthcheckSpec> Manager::healthcheck_of(const InstanceSpec& spec, const BootSource* boot) {
  if (spec.no_healthcheck) return std::nullopt;
  if (spec.healthcheck || spec.image.empty()) return spec.healthcheck;
  if (boot) return boot->image_healthcheck;
  auto resolved = images_.resolve(spec);  // an adopted instance: what its image says
  return resolved ? resolved->image_healthcheck : std::nullopt;
}

Result<ExecResult> Manager::probe_health(const std::string& name, const std::vector<std::string>& argv,
                                         std::chrono::milliseconds timeout) {
  auto [row, spec] = TRY(load(name));
  if (row.state == to_string(State::Paused)) return fail(EBUSY, "{} is paused", name);
  if (row.state != to_string(State::Running)) return fail(ESRCH, "{} is {}", name, row.state);
  return exec(name, argv, timeout);
}

}  // namespace vessel::daemon
